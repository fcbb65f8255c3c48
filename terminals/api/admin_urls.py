"""Mounted at the site root: the paths are those of operations-api.md, with an optional
trailing slash that the schema does not show."""

from django.urls import re_path

from terminals.api import admin

BASE = r"^api/v1/terminals"
TID = r"(?P<terminal_id>[A-Za-z0-9-]{1,32})"

urlpatterns = [
    re_path(rf"{BASE}(?:/)?$", admin.TerminalListView.as_view(), name="terminal-list"),
    re_path(rf"{BASE}/{TID}/disable(?:/)?$", admin.TerminalDisableView.as_view(),
            name="terminal-disable"),
    re_path(rf"{BASE}/{TID}/enable(?:/)?$", admin.TerminalEnableView.as_view(),
            name="terminal-enable"),
    re_path(rf"{BASE}/{TID}/rotate-secret(?:/)?$", admin.TerminalRotateSecretView.as_view(),
            name="terminal-rotate-secret"),
    re_path(rf"{BASE}/{TID}/config(?:/)?$", admin.TerminalConfigView.as_view(),
            name="terminal-config-admin"),
]
