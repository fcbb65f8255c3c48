"""HR's console (Django admin): shifts, roster entries, leave, corrections (approved or
rejected by an action), supervisors, closed months, daily results and exceptions, with
filters by department; the month report as a page and as XLSX.

As everywhere in the house, the console only collects the clerk's input and calls
`attendance.services`, as the API does: every change is audited and marks the days it
touches for computing. Results and exceptions are read-only (exceptions are resolved
by an action)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.selectors import org_unit_choices
from attendance import reports, selectors, services
from attendance.models import (
    AttendanceException,
    Correction,
    CorrectionStatus,
    DayResult,
    ExceptionStatus,
    Leave,
    LeaveStatus,
    MonthClose,
    RosterEntry,
    Shift,
    Supervisor,
)
from core.admin import ReadOnlyAdmin, ServiceAdmin, each
from core.files import XLSX_CONTENT_TYPE, attachment

CHANNEL = "admin"
WEEKDAYS = [(d, label) for d, label in enumerate(
    (gettext_lazy("Mon"), gettext_lazy("Tue"), gettext_lazy("Wed"), gettext_lazy("Thu"),
     gettext_lazy("Fri"), gettext_lazy("Sat"), gettext_lazy("Sun")), start=1)]


class DepartmentFilter(admin.SimpleListFilter):
    """Rows of the holders of a department and the units below it."""

    title = gettext_lazy("department")
    parameter_name = "department"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(code, f"{code} {name}") for code, name in org_unit_choices()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        code = self.value()
        if not code:
            return queryset
        return queryset.filter(cardholder_id__in=selectors.department_holders(code))


# --- Shifts, rosters, leave -----------------------------------------------------------


@admin.register(Shift)
class ShiftAdmin(ServiceAdmin):
    list_display = ("code", "name", "start", "end", "grace_minutes", "break_minutes",
                    "core_from", "core_to")
    search_fields = ("code", "name")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("code",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Shift, form: forms.ModelForm,
                   change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in services.SHIFT_FIELDS
                  if name in form.cleaned_data}
        if change:
            saved = services.shift_update(shift=obj, by=request.user, channel=CHANNEL,
                                          **{k: values[k] for k in form.changed_data
                                             if k in values})
        else:
            saved = services.shift_create(code=form.cleaned_data["code"], by=request.user,
                                          channel=CHANNEL, **values)
        self.adopt(obj, saved)


class RosterEntryForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(choices=WEEKDAYS, coerce=int,
                                              widget=forms.CheckboxSelectMultiple,
                                              label=gettext_lazy("weekdays"))

    class Meta:
        model = RosterEntry
        fields = ("cardholder", "first", "last", "weekdays", "shift")


@admin.register(RosterEntry)
class RosterEntryAdmin(ServiceAdmin):
    form = RosterEntryForm
    list_display = ("cardholder", "first", "last", "weekdays", "shift", "created_at")
    list_filter = ("shift",)
    search_fields = ("cardholder__number", "cardholder__name")
    autocomplete_fields = ("cardholder",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An entry is never edited: a later one overrides it on the days both cover.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: RosterEntry, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        [saved] = services.roster_put(entries=[{
            "cardholder": data["cardholder"].number, "from": data["first"], "to": data["last"],
            "weekdays": data["weekdays"], "shift": data["shift"].code if data["shift"] else None,
        }], by=request.user, channel=CHANNEL)
        self.adopt(obj, saved)


@admin.register(Leave)
class LeaveAdmin(ServiceAdmin):
    list_display = ("cardholder", "kind", "start", "end", "status", "approved_by")
    list_filter = ("kind", "status", DepartmentFilter)
    search_fields = ("cardholder__number", "cardholder__name")
    autocomplete_fields = ("cardholder",)
    fields = ("cardholder", "kind", "start", "end", "note")
    actions = ["cancel"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Leave, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        saved = services.leave_create(cardholder=data["cardholder"].number, start=data["start"],
                                      end=data["end"], kind=data["kind"], note=data["note"],
                                      by=request.user, channel=CHANNEL)
        self.adopt(obj, saved)

    @admin.action(description=gettext_lazy("Cancel the selected leave"))
    def cancel(self, request: HttpRequest, queryset: QuerySet[Leave]) -> None:
        each(self, request, queryset.filter(status=LeaveStatus.APPROVED),
             lambda leave: services.leave_cancel(leave=leave, by=request.user, channel=CHANNEL),
             lambda n: _("%(n)d leave cancelled."))


# --- Corrections and supervisors ------------------------------------------------------


@admin.register(Correction)
class CorrectionAdmin(ServiceAdmin):
    list_display = ("cardholder", "ts", "reason", "status", "requested_by", "decided_by")
    list_filter = ("status", DepartmentFilter)
    search_fields = ("cardholder__number", "cardholder__name")
    autocomplete_fields = ("cardholder",)
    fields = ("cardholder", "ts", "reason")
    actions = ["approve", "reject"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Correction, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        saved = services.correction_add(cardholder=data["cardholder"].number, ts=data["ts"],
                                        reason=data["reason"], by=request.user,
                                        channel=CHANNEL)
        self.adopt(obj, saved)

    def _decide(self, request: HttpRequest, queryset: QuerySet[Correction],
                approve: bool) -> None:
        each(self, request, queryset.filter(status=CorrectionStatus.PENDING),
             lambda c: services.correction_decide(correction=c, approve=approve,
                                                  by=request.user, channel=CHANNEL),
             (lambda n: _("%(n)d corrections approved.")) if approve
             else (lambda n: _("%(n)d corrections rejected.")))

    @admin.action(description=gettext_lazy("Approve the selected corrections"))
    def approve(self, request: HttpRequest, queryset: QuerySet[Correction]) -> None:
        self._decide(request, queryset, True)

    @admin.action(description=gettext_lazy("Reject the selected corrections"))
    def reject(self, request: HttpRequest, queryset: QuerySet[Correction]) -> None:
        self._decide(request, queryset, False)


@admin.register(Supervisor)
class SupervisorAdmin(ServiceAdmin):
    list_display = ("user", "org_unit")
    fields = ("user", "org_unit")

    def save_model(self, request: HttpRequest, obj: Supervisor, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        saved = services.supervisor_set(user=data["user"], org_unit=data["org_unit"].code,
                                        by=request.user, channel=CHANNEL)
        self.adopt(obj, saved)


# --- Results, the month report, closing -----------------------------------------------


class ReportForm(forms.Form):
    month = forms.DateField(label=gettext_lazy("Month"), input_formats=["%Y-%m"],
                            widget=forms.TextInput(attrs={"placeholder": "YYYY-MM"}))
    department = forms.CharField(label=gettext_lazy("department"), required=False)


@admin.register(DayResult)
class DayResultAdmin(ReadOnlyAdmin):
    list_display = ("date", "cardholder", "shift", "status", "first_in", "last_out",
                    "late_minutes", "early_minutes", "worked_minutes", "overtime_minutes",
                    "leave_kind", "corrected", "flagged")
    list_filter = ("status", "date", DepartmentFilter, "corrected", "flagged")
    search_fields = ("cardholder__number", "cardholder__name")
    date_hierarchy = "date"
    change_list_template = "admin/attendance/dayresult/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        report = self.admin_site.admin_view(self.report_view)
        return [path("report/", report, name="attendance_dayresult_report"),
                *super().get_urls()]

    def report_view(self, request: HttpRequest) -> HttpResponse:
        """The month report: a table on the page, or its XLSX (format=xlsx)."""
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = ReportForm(request.GET or None)
        report = None
        if form.is_valid():
            month: dt.date = form.cleaned_data["month"]
            department = form.cleaned_data["department"] or None
            if department and not selectors.department_known(department):
                form.add_error("department", _("No department has this code."))
            else:
                report = selectors.month_report(month, department)
                if request.GET.get("format") == "xlsx":
                    return attachment(reports.month_report_xlsx(report),
                                      filename=f"attendance-{report['month']}.xlsx",
                                      content_type=XLSX_CONTENT_TYPE)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": _("Monthly attendance"), "form": form, "report": report}
        return TemplateResponse(request, "admin/attendance/month_report.html", context)


@admin.register(MonthClose)
class MonthCloseAdmin(ServiceAdmin):
    list_display = ("month", "org_unit", "closed_by", "closed_at")
    fields = ("month", "org_unit")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: MonthClose, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        saved = services.month_close(month=data["month"],
                                     department=data["org_unit"].code if data["org_unit"]
                                     else None, by=request.user, channel=CHANNEL)
        self.adopt(obj, saved)


@admin.register(AttendanceException)
class AttendanceExceptionAdmin(ReadOnlyAdmin):
    list_display = ("date", "cardholder", "kind", "status", "raised_at", "resolved_by", "note")
    list_filter = ("status", "kind", DepartmentFilter)
    search_fields = ("cardholder__number", "cardholder__name")
    actions = ["apply", "keep"]

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("attendance.change_attendanceexception")

    def _resolve(self, request: HttpRequest, queryset: QuerySet[AttendanceException],
                 apply: bool) -> None:
        each(self, request, queryset.filter(status=ExceptionStatus.OPEN),
             lambda e: services.exception_resolve(exception=e, apply=apply, by=request.user,
                                                  channel=CHANNEL),
             lambda n: _("%(n)d exceptions resolved."))

    @admin.action(description=gettext_lazy("Apply the proposed result to the closed month"),
                  permissions=["resolve"])
    def apply(self, request: HttpRequest, queryset: QuerySet[AttendanceException]) -> None:
        self._resolve(request, queryset, True)

    @admin.action(description=gettext_lazy("Keep the closed result"), permissions=["resolve"])
    def keep(self, request: HttpRequest, queryset: QuerySet[AttendanceException]) -> None:
        self._resolve(request, queryset, False)

