"""HR's attendance calls under /api/v1/attendance/ (operations-api.md, Attendance)."""

from django.urls import URLPattern, re_path

from attendance.api import views

END = r"/?$"

urlpatterns: list[URLPattern] = [
    re_path(rf"^shifts{END}", views.ShiftListView.as_view(), name="attendance-shifts"),
    re_path(rf"^shifts/(?P<code>[A-Za-z0-9_.-]{{1,32}}){END}", views.ShiftDetailView.as_view(),
            name="attendance-shift"),
    re_path(rf"^rosters{END}", views.RosterView.as_view(), name="attendance-rosters"),
    re_path(rf"^leave{END}", views.LeaveCreateView.as_view(), name="attendance-leave"),
    re_path(rf"^results{END}", views.ResultListView.as_view(), name="attendance-results"),
    re_path(rf"^report{END}", views.ReportView.as_view(), name="attendance-report"),
    re_path(rf"^corrections{END}", views.CorrectionListView.as_view(),
            name="attendance-corrections"),
    re_path(rf"^corrections/(?P<correction_id>[0-9]{{1,12}})/approve{END}",
            views.CorrectionDecideView.as_view(), name="attendance-correction-approve"),
    re_path(rf"^corrections/(?P<correction_id>[0-9]{{1,12}})/reject{END}",
            views.CorrectionRejectView.as_view(), name="attendance-correction-reject"),
    # Any month-like segment reaches the view, which answers 400 for a bad one.
    re_path(rf"^months/(?P<month>[^/]{{1,16}})/close{END}",
            views.MonthCloseView.as_view(), name="attendance-month-close"),
    re_path(rf"^exceptions{END}", views.ExceptionListView.as_view(),
            name="attendance-exceptions"),
    re_path(rf"^exceptions/(?P<exception_id>[0-9]{{1,12}})/resolve{END}",
            views.ExceptionResolveView.as_view(), name="attendance-exception-resolve"),
]
