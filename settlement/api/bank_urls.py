"""Bank transfers and statements, mounted at the site root with the operations API's paths."""

from django.urls import re_path

from settlement.api import bank

urlpatterns = [
    re_path(r"^api/v1/bank/transfers(?:/)?$", bank.BankTransferView.as_view(),
            name="bank-transfers"),
    re_path(r"^api/v1/bank/statements(?:/)?$", bank.BankStatementView.as_view(),
            name="bank-statements"),
]
