"""Merchant settlements for finance (operations-api.md: `GET /api/v1/settlements?date=`):
the day's figures as JSON, or the printable statement with `&format=xlsx|pdf`; POST runs
the settlement of a day that is over."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Merchant
from core.api.views import StaffAPIView
from core.errors import InvalidRequest, NotFound
from core.permissions import Area
from settlement import statements
from settlement.models import MerchantSettlement
from settlement.settle import settlement_run, settlements_of_day, settlements_of_month

FILE_FORMATS: dict[str, tuple[Callable[[statements.Statement], bytes], str]] = {
    "xlsx": (statements.statement_xlsx, statements.XLSX_CONTENT_TYPE),
    "pdf": (statements.statement_pdf, statements.PDF_CONTENT_TYPE),
}


class FileFormatNegotiation(DefaultContentNegotiation):
    """`?format=` picks the statement file here, not a DRF renderer."""

    class settings:  # read as DefaultContentNegotiation.settings
        URL_FORMAT_OVERRIDE = None


class SettlementOutput(serializers.ModelSerializer):
    merchant = serializers.CharField(source="merchant.code")
    name = serializers.CharField(source="merchant.name")

    class Meta:
        model = MerchantSettlement
        fields = ["merchant", "name", "business_date", "count", "gross", "fee", "net",
                  "fee_rate_bp", "posting_id", "created_at"]


class SettleInput(serializers.Serializer):
    date = serializers.DateField()


def _date(value: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(value or "")
    except ValueError:
        raise InvalidRequest(_("date must be a date, YYYY-MM-DD."), field="date") from None


def _month(value: str | None) -> tuple[int, int]:
    try:
        day = dt.date.fromisoformat(f"{value or ''}-01")
    except ValueError:
        raise InvalidRequest(_("month must be YYYY-MM."), field="month") from None
    return day.year, day.month


def _file_or_none(request: Request, statement: Callable[[], statements.Statement]
                  ) -> HttpResponse | None:
    kind = request.query_params.get("format")
    if not kind or kind == "json":
        return None
    if kind not in FILE_FORMATS:
        raise InvalidRequest(_("format must be json, xlsx or pdf."), field="format")
    made = statement()
    render, content_type = FILE_FORMATS[kind]
    answer = HttpResponse(render(made), content_type=content_type)
    answer["Content-Disposition"] = f'attachment; filename="{made.filename}.{kind}"'
    return answer


FORMAT_PARAM = OpenApiParameter("format", str, enum=["json", "xlsx", "pdf"])


class SettlementListView(StaffAPIView):
    area = Area.EXCEPTIONS  # finance; the auditor reads
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE, required=True), FORMAT_PARAM],
        responses={200: SettlementOutput(many=True)},
    )
    def get(self, request: Request) -> Any:
        day = _date(request.query_params.get("date"))
        file = _file_or_none(request, lambda: statements.day_statement(day))
        if file is not None:
            return file
        return Response(SettlementOutput(settlements_of_day(day), many=True).data)

    @extend_schema(request=SettleInput, responses={201: SettlementOutput(many=True)})
    def post(self, request: Request) -> Response:
        data: Any = request.data
        if not isinstance(data, dict) or set(data) - {"date"}:
            raise InvalidRequest(_('The body is {"date"}.'))
        day = _date(data.get("date") if isinstance(data.get("date"), str) else None)
        made = settlement_run(business_date=day, by=request.user)
        return Response(SettlementOutput(made, many=True).data, status=201)


class MerchantMonthView(StaffAPIView):
    """A merchant's month: one line per settled business day."""

    area = Area.EXCEPTIONS
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("month", str, required=True, description="YYYY-MM"),
                    FORMAT_PARAM],
        responses={200: SettlementOutput(many=True)},
    )
    def get(self, request: Request, code: str) -> Any:
        merchant = Merchant.objects.filter(code=code).first()
        if merchant is None:
            raise NotFound()
        year, month = _month(request.query_params.get("month"))
        file = _file_or_none(request, lambda: statements.month_statement(
            merchant=merchant, year=year, month=month))
        if file is not None:
            return file
        rows = settlements_of_month(year=year, month=month, merchant=merchant)
        return Response(SettlementOutput(rows, many=True).data)
