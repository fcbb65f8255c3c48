"""The counter's money: clerk shifts (cash close) and consumption corrections."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from openpyxl import Workbook
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.serializers import InputSerializer
from core.api.views import StaffAPIView
from core.errors import InvalidRequest, NotFound
from core.permissions import Area
from settlement.api.settlements import FileFormatNegotiation
from settlement.cash import shift_close, shift_open
from settlement.corrections import purchase_refund
from settlement.models import ClerkShift, PurchaseRefund
from settlement.services import business_day_bounds


class ShiftOutput(serializers.ModelSerializer):
    clerk = serializers.CharField(source="clerk.username")

    class Meta:
        model = ClerkShift
        fields = ["id", "clerk", "opened_at", "closed_at", "cash_in", "cash_out", "expected",
                  "counted", "difference"]


class ShiftListView(StaffAPIView):
    area = Area.CASH
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(parameters=[OpenApiParameter("date", OpenApiTypes.DATE),
                               OpenApiParameter("clerk", str),
                               OpenApiParameter("format", str, enum=["json", "xlsx"])],
                   responses={200: ShiftOutput(many=True)})
    def get(self, request: Request) -> Any:
        raw = request.query_params.get("date") or timezone.localdate().isoformat()
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError as exc:
            raise InvalidRequest(_("date must be YYYY-MM-DD."), field="date") from exc
        start, end = business_day_bounds(day)
        shifts = ClerkShift.objects.filter(opened_at__gte=start, opened_at__lt=end)
        if request.query_params.get("clerk"):
            shifts = shifts.filter(clerk__username=request.query_params["clerk"])
        rows = ShiftOutput(shifts.select_related("clerk"), many=True).data
        if request.query_params.get("format") == "xlsx":
            return _shift_report(day, rows)
        return Response(rows)

    @extend_schema(request=None, responses={201: ShiftOutput})
    def post(self, request: Request) -> Response:
        EmptyInput(data=request.data or {}).is_valid(raise_exception=True)
        return Response(ShiftOutput(shift_open(clerk=request.user, by=request.user)).data,
                        status=201)


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
    response = HttpResponse(
        out.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="shifts-{day.isoformat()}.xlsx"'
    return response


class EmptyInput(InputSerializer):
    class Meta:
        ref_name = "ShiftOpen"


class ShiftCloseInput(InputSerializer):
    counted = serializers.IntegerField(min_value=0, max_value=10**12)


class ShiftCloseView(StaffAPIView):
    area = Area.CASH

    @extend_schema(request=ShiftCloseInput, responses={200: ShiftOutput})
    def post(self, request: Request, shift_id: str) -> Response:
        form = ShiftCloseInput(data=request.data)
        form.is_valid(raise_exception=True)
        shift = ClerkShift.objects.filter(pk=int(shift_id)).first()
        if shift is None:
            raise NotFound()
        closed = shift_close(shift=shift, counted=form.validated_data["counted"],
                             by=request.user)
        return Response(ShiftOutput(closed).data)


class RefundInput(InputSerializer):
    amount = serializers.IntegerField(min_value=-(10**12), max_value=10**12)
    reason = serializers.CharField(max_length=255)


class RefundOutput(serializers.ModelSerializer):
    class Meta:
        model = PurchaseRefund
        fields = ["id", "terminal_id", "terminal_seq", "card_no", "amount", "reason", "load_id",
                  "created_at"]


class PurchaseRefundView(StaffAPIView):
    """消费更正: give back part or all of a purchase, never more than it in total."""

    area = Area.CORRECTIONS

    @extend_schema(request=RefundInput, responses={201: RefundOutput})
    def post(self, request: Request, terminal_id: str, terminal_seq: str) -> Response:
        form = RefundInput(data=request.data)
        form.is_valid(raise_exception=True)
        refund = purchase_refund(terminal_id=terminal_id, terminal_seq=int(terminal_seq),
                                 by=request.user, **form.validated_data)
        return Response(RefundOutput(refund).data, status=201)
