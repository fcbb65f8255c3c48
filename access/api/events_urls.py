"""Door events, alarms and area reports, mounted at the site root with the operations
API's paths (access.api.urls holds the security office's set-up calls)."""

from django.urls import URLPattern, re_path

from access.api import events

END = r"(?:/)?$"

urlpatterns: list[URLPattern] = [
    re_path(rf"^api/v1/access/events{END}", events.EventListView.as_view(),
            name="access-events"),
    re_path(rf"^api/v1/access/alarms{END}", events.AlarmListView.as_view(),
            name="access-alarms"),
    re_path(rf"^api/v1/access/alarms/(?P<alarm_id>[0-9]{{1,12}})/acknowledge{END}",
            events.AlarmAcknowledgeView.as_view(), name="access-alarm-acknowledge"),
    re_path(rf"^api/v1/access/presence{END}", events.PresenceView.as_view(),
            name="access-presence"),
    re_path(rf"^api/v1/access/report{END}", events.EntriesReportView.as_view(),
            name="access-report"),
]
