from django.urls import re_path

from settlement.api import counter

urlpatterns = [
    re_path(r"^api/v1/cash/shifts(?:/)?$", counter.ShiftListView.as_view(), name="cash-shifts"),
    re_path(r"^api/v1/cash/shifts/(?P<shift_id>[0-9]{1,18})/close(?:/)?$",
            counter.ShiftCloseView.as_view(), name="cash-shift-close"),
    re_path(r"^api/v1/purchases/(?P<terminal_id>[A-Za-z0-9-]{1,32})/(?P<terminal_seq>[0-9]{1,15})"
            r"/refund(?:/)?$", counter.PurchaseRefundView.as_view(), name="purchase-refund"),
]
