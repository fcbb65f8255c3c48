"""The counter's money: clerk shifts (cash close) and consumption corrections."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from openpyxl import Workbook
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.serializers import InputSerializer, QuerySerializer, StrictIntegerField
from core.api.views import (
    FileFormatNegotiation,
    StaffAPIView,
    error_responses,
    query_params,
    validated,
)
from core.files import XLSX_CONTENT_TYPE as XLSX
from core.files import attachment
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.permissions import Area
from settlement.cash import shift_close, shift_open
from settlement.corrections import purchase_refund
from settlement.selectors import shift_get, shift_list

TAG = ["cash"]


class ShiftOutput(serializers.Serializer):
    id = serializers.IntegerField()
    clerk = serializers.CharField(source="clerk.username")
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    cash_in = serializers.IntegerField(help_text="fen taken in cash during the shift")
    cash_out = serializers.IntegerField(help_text="fen paid out in cash during the shift")
    expected = serializers.IntegerField(allow_null=True, help_text="fen the drawer should hold")
    counted = serializers.IntegerField(allow_null=True)
    difference = serializers.IntegerField(allow_null=True, help_text="counted − expected")

    class Meta:
        ref_name = "Shift"


class ShiftListView(StaffAPIView):
    area = Area.CASH
    content_negotiation_class = FileFormatNegotiation

    class Query(QuerySerializer):
        date = serializers.DateField(required=False,
                                     help_text="the business day the shifts opened (today)")
        clerk = serializers.CharField(required=False, max_length=150,
                                      help_text="the clerk's username")
        format = serializers.ChoiceField(choices=["json", "xlsx"], required=False,
                                         help_text="xlsx: the printable shift report")

    class Input(InputSerializer):
        class Meta:
            ref_name = "ShiftOpen"

    @extend_schema(
        tags=TAG, parameters=[Query],
        responses={(200, "application/json"): ShiftOutput(many=True),
                   (200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="the report"),
                   **error_responses(query=True)},
        summary="The shifts of a business day (the caller's own or every clerk's)",
    )
    def get(self, request: Request) -> Any:
        query = query_params(self.Query, request)
        day = query.get("date") or timezone.localdate()
        rows = ShiftOutput(shift_list(day=day, clerk=query.get("clerk")), many=True).data
        if query.get("format") == "xlsx":
            return _shift_report(day, rows)
        return Response(rows)

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: ShiftOutput, **error_responses(
                       {409: ("shift_already_open",)}, body=True, idempotent=True)},
                   summary="Open the caller's shift at the counter")
    @idempotent
    def post(self, request: Request) -> Response:
        validated(self.Input, request.data or {})
        shift = shift_open(clerk=request.user, by=request.user)
        return Response(ShiftOutput(shift).data, status=status.HTTP_201_CREATED)


def _shift_report(day: dt.date, rows: Any) -> HttpResponse:
    """The printable shift report: one row per clerk shift, amounts in yuan."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Shifts")
    sheet.append([_("Clerk shift report"), day.isoformat()])
    sheet.append([_("clerk"), _("opened at"), _("closed at"), _("cash taken (yuan)"),
                  _("cash paid out (yuan)"), _("expected (yuan)"), _("counted (yuan)"),
                  _("difference (yuan)")])
    for r in rows:
        sheet.append([r["clerk"], r["opened_at"], r["closed_at"] or "",
                      *[(r[k] or 0) / 100 for k in ("cash_in", "cash_out", "expected",
                                                     "counted", "difference")]])
    out = io.BytesIO()
    book.save(out)
    return attachment(out.getvalue(), filename=f"shifts-{day.isoformat()}.xlsx",
                      content_type=XLSX)


class ShiftCloseView(StaffAPIView):
    area = Area.CASH

    class Input(InputSerializer):
        counted = StrictIntegerField(min_value=0, help_text="fen counted in the drawer")

        class Meta:
            ref_name = "ShiftClose"

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={200: ShiftOutput, **error_responses(
                       {404: ("not_found",), 409: ("invalid_status",)},
                       body=True, idempotent=True)},
                   summary="Close a shift with the cash counted; a difference goes to suspense")
    @idempotent
    def post(self, request: Request, shift_id: str) -> Response:
        shift = shift_get(int(shift_id))
        data = validated(self.Input, request.data)
        closed = shift_close(shift=shift, counted=data["counted"], by=request.user)
        return Response(ShiftOutput(closed).data)


class RefundOutput(serializers.Serializer):
    id = serializers.IntegerField()
    terminal_id = serializers.CharField()
    terminal_seq = serializers.IntegerField()
    card_no = serializers.CharField()
    amount = serializers.IntegerField(help_text="fen given back")
    reason = serializers.CharField()
    load_id = serializers.CharField(help_text="the correction load owed to the card (empty "
                                              "when the card is closed)")
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "PurchaseRefund"


class PurchaseRefundView(StaffAPIView):
    """消费更正: give back part or all of a purchase, never more than it in total."""

    area = Area.CORRECTIONS

    class Input(InputSerializer):
        amount = StrictIntegerField(help_text="fen, more than 0")
        reason = serializers.CharField(max_length=255)

        class Meta:
            ref_name = "PurchaseRefundInput"

    @extend_schema(
        tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: RefundOutput, **error_responses(
            {400: ("invalid_amount", "refund_exceeds_purchase", "balance_limit_exceeded"),
             404: ("not_found",)}, body=True, idempotent=True)},
        summary="Refund (part of) an accepted purchase to the holder's purse",
    )
    @idempotent
    def post(self, request: Request, terminal_id: str, terminal_seq: str) -> Response:
        data = validated(self.Input, request.data)
        refund = purchase_refund(terminal_id=terminal_id, terminal_seq=int(terminal_seq),
                                 by=request.user, **data)
        return Response(RefundOutput(refund).data, status=status.HTTP_201_CREATED)
