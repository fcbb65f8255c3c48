from django.urls import re_path

from access.api import terminal

urlpatterns = [
    re_path(r"^access-list(?:/)?$", terminal.AccessListView.as_view(),
            name="terminal-access-list"),
    re_path(r"^access-check(?:/)?$", terminal.AccessCheckView.as_view(),
            name="terminal-access-check"),
]
