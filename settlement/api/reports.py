"""The daily summary for finance (`GET /api/v1/reports/daily?date=`): the business day's
figures as JSON, or as a spreadsheet with `&format=xlsx`, in the language asked for."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.serializers import QuerySerializer
from core.api.views import FileFormatNegotiation, StaffAPIView, error_responses, query_params
from core.files import XLSX_CONTENT_TYPE, attachment
from core.permissions import Area
from settlement import reports


class DailySummaryView(StaffAPIView):
    area = Area.EXCEPTIONS  # finance; the auditor reads
    content_negotiation_class = FileFormatNegotiation

    class Query(QuerySerializer):
        date = serializers.DateField(help_text="the business day, YYYY-MM-DD")
        format = serializers.ChoiceField(choices=["json", "xlsx"], required=False,
                                         help_text="json (the default) or xlsx")

    @extend_schema(
        tags=["reports"], parameters=[Query],
        responses={(200, "application/json"): OpenApiTypes.OBJECT,
                   (200, XLSX_CONTENT_TYPE): OpenApiResponse(
                       OpenApiTypes.BINARY, description="the summary as a spreadsheet"),
                   **error_responses(query=True)},
        summary="The business day's figures: sales, top-ups, subsidies, deposits, refunds, "
                "open exceptions",
    )
    def get(self, request: Request) -> Any:
        query = query_params(self.Query, request)
        day = query["date"]
        summary = reports.daily_summary(day)
        if query.get("format") != "xlsx":
            return Response(summary)
        return attachment(reports.daily_summary_xlsx(summary),
                          filename=f"daily-{day.isoformat()}.xlsx",
                          content_type=XLSX_CONTENT_TYPE)
