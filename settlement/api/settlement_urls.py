"""Merchant settlements, mounted at the site root with the operations API's paths."""

from django.urls import re_path

from settlement.api import settlements

urlpatterns = [
    re_path(r"^api/v1/settlements(?:/)?$", settlements.SettlementListView.as_view(),
            name="settlement-list"),
    re_path(r"^api/v1/settlements/merchants/(?P<code>[^/]{1,32})(?:/)?$",
            settlements.MerchantMonthView.as_view(), name="settlement-merchant-month"),
]
