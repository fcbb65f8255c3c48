"""Merchant settlements for finance (operations-api.md: `GET /api/v1/settlements?date=`):
the day's figures as JSON, or the printable statement with `&format=xlsx|pdf`; POST runs
the settlement of a day that is over."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.serializers import InputSerializer, MonthField, QuerySerializer
from core.api.views import (
    FileFormatNegotiation,
    StaffAPIView,
    error_responses,
    query_params,
    validated,
)
from core.files import PDF_CONTENT_TYPE, XLSX_CONTENT_TYPE, attachment
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.permissions import Area
from settlement import statements
from settlement.selectors import merchant_get, settlements_of_day, settlements_of_month
from settlement.settle import settlement_run

TAG = ["settlements"]
XLSX = XLSX_CONTENT_TYPE
PDF = PDF_CONTENT_TYPE
FILE_FORMATS: dict[str, tuple[Callable[[statements.Statement], bytes], str]] = {
    "xlsx": (statements.statement_xlsx, XLSX),
    "pdf": (statements.statement_pdf, PDF),
}


class SettlementOutput(serializers.Serializer):
    merchant = serializers.CharField(source="merchant.code")
    name = serializers.CharField(source="merchant.name")
    business_date = serializers.DateField()
    count = serializers.IntegerField(help_text="accepted purchases received that day")
    gross = serializers.IntegerField(help_text="fen")
    fee = serializers.IntegerField(help_text="fen, gross × fee_rate_bp / 10000, half to even")
    net = serializers.IntegerField(help_text="fen paid out: gross − fee")
    fee_rate_bp = serializers.IntegerField()
    posting_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "MerchantSettlement"


def statement_file(kind: str | None, statement: Callable[[], statements.Statement]
                   ) -> HttpResponse | None:
    """The statement as the file `kind` names, or None for JSON."""
    if not kind or kind == "json":
        return None
    made = statement()
    render, content_type = FILE_FORMATS[kind]
    return attachment(render(made), filename=f"{made.filename}.{kind}",
                      content_type=content_type)


def file_responses(output: Any, *kinds: str) -> dict[Any, Any]:
    """200 as JSON, or as each file kind (`?format=`)."""
    types = {"xlsx": XLSX, "pdf": PDF}
    return {(200, "application/json"): output,
            **{(200, types[k]): OpenApiResponse(OpenApiTypes.BINARY, description=f"{k} file")
               for k in kinds}}


class FormatQuery(QuerySerializer):
    format = serializers.ChoiceField(choices=["json", "xlsx", "pdf"], required=False,
                                     help_text="json (the default), or the printable "
                                               "statement as xlsx or pdf")


class SettlementListView(StaffAPIView):
    area = Area.EXCEPTIONS  # finance; the auditor reads
    content_negotiation_class = FileFormatNegotiation

    class Query(FormatQuery):
        date = serializers.DateField(help_text="the business day, YYYY-MM-DD")

    class Input(InputSerializer):
        date = serializers.DateField(help_text="a business day that is over")

        class Meta:
            ref_name = "SettlementRun"

    @extend_schema(tags=TAG, parameters=[Query],
                   responses={**file_responses(SettlementOutput(many=True), "xlsx", "pdf"),
                              **error_responses(query=True)},
                   summary="The settlements of a business day, one per merchant")
    def get(self, request: Request) -> Any:
        query = query_params(self.Query, request)
        day = query["date"]
        file = statement_file(query.get("format"), lambda: statements.day_statement(day))
        if file is not None:
            return file
        return Response(SettlementOutput(settlements_of_day(day), many=True).data)

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: SettlementOutput(many=True),
                              **error_responses(body=True, idempotent=True)},
                   summary="Settle every merchant not yet settled for a day that is over",
                   description="Answers the settlements this call made: none when the day "
                               "was settled already. A day not over yet is a 400 "
                               "`invalid_request` naming `date`.")
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        made = settlement_run(business_date=data["date"], by=request.user)
        return Response(SettlementOutput(made, many=True).data, status=status.HTTP_201_CREATED)


class MerchantMonthView(StaffAPIView):
    """A merchant's month: one line per settled business day."""

    area = Area.EXCEPTIONS
    content_negotiation_class = FileFormatNegotiation

    class Query(FormatQuery):
        month = MonthField(help_text="YYYY-MM")

    @extend_schema(tags=TAG, parameters=[Query],
                   responses={**file_responses(SettlementOutput(many=True), "xlsx", "pdf"),
                              **error_responses({404: ("not_found",)}, query=True)},
                   summary="A merchant's settlements of a month")
    def get(self, request: Request, code: str) -> Any:
        merchant = merchant_get(code)
        query = query_params(self.Query, request)
        year, month = query["month"].year, query["month"].month
        file = statement_file(query.get("format"), lambda: statements.month_statement(
            merchant=merchant, year=year, month=month))
        if file is not None:
            return file
        rows = settlements_of_month(year=year, month=month, merchant=merchant)
        return Response(SettlementOutput(rows, many=True).data)
