"""Mounted at the site root with the operations API's paths."""

from django.urls import re_path

from settlement.api import readings, views

urlpatterns = [
    re_path(r"^api/v1/exceptions(?:/)?$", views.ExceptionListView.as_view(),
            name="exception-list"),
    re_path(r"^api/v1/exceptions/(?P<exception_id>[0-9]{1,18})/resolve(?:/)?$",
            views.ExceptionResolveView.as_view(), name="exception-resolve"),
    re_path(r"^api/v1/reconciliations(?:/)?$", views.ReconciliationRunView.as_view(),
            name="reconciliation-runs"),
    re_path(r"^api/v1/cards/(?P<card_no>[0-9]{8,19})/readings(?:/)?$",
            readings.CardReadingListView.as_view(), name="card-readings"),
]
