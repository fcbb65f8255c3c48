from django.urls import re_path

from terminals.api import admin

TID = r"(?P<terminal_id>[A-Za-z0-9-]{1,32})"

urlpatterns = [
    re_path(r"^/?$", admin.TerminalListView.as_view(), name="terminal-list"),
    re_path(rf"^/{TID}/disable/?$", admin.TerminalDisableView.as_view(), name="terminal-disable"),
    re_path(rf"^/{TID}/enable/?$", admin.TerminalEnableView.as_view(), name="terminal-enable"),
    re_path(rf"^/{TID}/rotate-secret/?$", admin.TerminalRotateSecretView.as_view(),
            name="terminal-rotate-secret"),
    re_path(rf"^/{TID}/config/?$", admin.TerminalConfigView.as_view(),
            name="terminal-config-admin"),
]
