"""The daily summary for finance (`GET /api/v1/reports/daily?date=`): the business day's
figures as JSON, or as a spreadsheet with `&format=xlsx`, in the language asked for."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.views import StaffAPIView
from core.errors import InvalidRequest
from core.permissions import Area
from settlement import reports, statements
from settlement.api.settlements import FileFormatNegotiation, _date


class DailySummaryView(StaffAPIView):
    area = Area.EXCEPTIONS  # finance; the auditor reads
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE, required=True),
                    OpenApiParameter("format", str, enum=["json", "xlsx"])],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Any:
        day = _date(request.query_params.get("date"))
        kind = request.query_params.get("format") or "json"
        if kind not in ("json", "xlsx"):
            raise InvalidRequest(_("format must be json or xlsx."), field="format")
        summary = reports.daily_summary(day)
        if kind == "json":
            return Response(summary)
        answer = HttpResponse(reports.daily_summary_xlsx(summary),
                              content_type=statements.XLSX_CONTENT_TYPE)
        answer["Content-Disposition"] = f'attachment; filename="daily-{day.isoformat()}.xlsx"'
        return answer
