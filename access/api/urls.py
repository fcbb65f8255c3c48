"""The security office's API, under /api/v1/access/. No trailing slash; one is tolerated."""

from django.urls import URLPattern, re_path

from access.api import views

END = r"(?:/)?$"
CODE = r"(?P<code>[A-Za-z0-9_.-]+)"

urlpatterns: list[URLPattern] = [
    re_path(rf"^doors{END}", views.DoorListView.as_view(), name="access-doors"),
    re_path(rf"^doors/(?P<door_id>[A-Za-z0-9-]+){END}", views.DoorDetailView.as_view(),
            name="access-door"),
    re_path(rf"^areas{END}", views.AreaListView.as_view(), name="access-areas"),
    re_path(rf"^areas/{CODE}{END}", views.AreaDetailView.as_view(), name="access-area"),
    re_path(rf"^schedules{END}", views.ScheduleListView.as_view(), name="access-schedules"),
    re_path(rf"^schedules/{CODE}{END}", views.ScheduleDetailView.as_view(),
            name="access-schedule"),
    re_path(rf"^holidays{END}", views.HolidayListView.as_view(), name="access-holidays"),
    re_path(rf"^groups{END}", views.GroupListView.as_view(), name="access-groups"),
    re_path(rf"^groups/{CODE}{END}", views.GroupDetailView.as_view(), name="access-group"),
    re_path(rf"^groups/{CODE}/members{END}", views.GroupMembersView.as_view(),
            name="access-group-members"),
    re_path(rf"^groups/{CODE}/org-units{END}", views.GroupOrgUnitsView.as_view(),
            name="access-group-org-units"),
    re_path(rf"^visitors{END}", views.VisitorListView.as_view(), name="access-visitors"),
    re_path(rf"^visitors/(?P<grant_id>[0-9]{{1,12}})/revoke{END}",
            views.VisitorRevokeView.as_view(), name="access-visitor-revoke"),
    re_path(rf"^lockdowns{END}", views.LockdownListView.as_view(), name="access-lockdowns"),
    re_path(rf"^lockdowns/(?P<lockdown_id>[0-9]{{1,12}})/end{END}",
            views.LockdownEndView.as_view(), name="access-lockdown-end"),
]
