"""Reports, mounted at the site root with the operations API's paths."""

from django.urls import re_path

from settlement.api import reports

urlpatterns = [
    re_path(r"^api/v1/reports/daily(?:/)?$", reports.DailySummaryView.as_view(),
            name="report-daily"),
]
