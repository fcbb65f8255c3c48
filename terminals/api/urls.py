from django.urls import re_path

from terminals.api import views

urlpatterns = [
    re_path(r"^records(?:/)?$", views.RecordsView.as_view(), name="terminal-records"),
    re_path(r"^blacklist(?:/)?$", views.BlacklistView.as_view(), name="terminal-blacklist"),
    re_path(
        r"^pending-loads(?:/)?$", views.PendingLoadsView.as_view(), name="terminal-pending-loads"
    ),
    re_path(r"^config(?:/)?$", views.ConfigView.as_view(), name="terminal-config"),
    re_path(r"^heartbeat(?:/)?$", views.HeartbeatView.as_view(), name="terminal-heartbeat"),
]
