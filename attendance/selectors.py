"""Reads of attendance used by the API, the console and the reports: daily results with
their filters, the month report's totals per holder, exceptions, shifts, corrections."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.selectors import cardholder_ids_in_org_units, org_units_below, org_units_by_code
from attendance.models import (
    AttendanceException,
    Correction,
    DayResult,
    LeaveKind,
    OvertimeKindChoice,
    RosterEntry,
    Shift,
)
from attendance.rules import Status
from core.errors import InvalidRequest, NotFound

WORKED = {Status.NORMAL, Status.LATE, Status.EARLY_LEAVE, Status.LATE_AND_EARLY,
          Status.MISSING_PUNCH}


def shift_get(code: str) -> Shift:
    shift = Shift.objects.filter(code=code).first()
    if shift is None:
        raise NotFound(_("No shift %(c)s.") % {"c": code})
    return shift


def shift_list() -> QuerySet[Shift]:
    return Shift.objects.order_by("code")


def roster_list(*, cardholder: str | None = None) -> QuerySet[RosterEntry]:
    qs = RosterEntry.objects.select_related("cardholder", "shift").order_by("id")
    if cardholder:
        qs = qs.filter(cardholder__number=cardholder)
    return qs


def correction_get(pk: int) -> Correction:
    correction = Correction.objects.select_related("cardholder").filter(pk=pk).first()
    if correction is None:
        raise NotFound(_("No correction %(n)s.") % {"n": pk})
    return correction


def correction_list(*, status: str | None = None) -> QuerySet[Correction]:
    qs = Correction.objects.select_related("cardholder", "requested_by", "decided_by")
    return qs.filter(status=status) if status else qs


def exception_get(pk: int) -> AttendanceException:
    found = AttendanceException.objects.select_related("cardholder").filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No attendance exception %(n)s.") % {"n": pk})
    return found


def exception_list(*, status: str | None = None) -> QuerySet[AttendanceException]:
    qs = AttendanceException.objects.select_related("cardholder")
    return qs.filter(status=status) if status else qs


def department_known(code: str) -> bool:
    return code in org_units_by_code([code])


def department_holders(code: str) -> set[int]:
    """The holders of a department and of every unit below it."""
    unit = org_units_by_code([code]).get(code)
    if unit is None:
        raise InvalidRequest(_("No department %(d)s.") % {"d": code}, field="department")
    return cardholder_ids_in_org_units(org_units_below([unit.pk]))


def result_list(*, first: dt.date | None = None, last: dt.date | None = None,
                cardholder: str | None = None, department: str | None = None,
                status: str | None = None) -> QuerySet[DayResult]:
    """Daily results, by date then holder number."""
    qs = DayResult.objects.select_related("cardholder").order_by("date", "cardholder__number")
    if first:
        qs = qs.filter(date__gte=first)
    if last:
        qs = qs.filter(date__lte=last)
    if cardholder:
        qs = qs.filter(cardholder__number=cardholder)
    if department:
        qs = qs.filter(cardholder_id__in=department_holders(department))
    if status:
        qs = qs.filter(status=status)
    return qs


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    first = month.replace(day=1)
    return first, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def month_report(month: dt.date, department: str | None = None) -> dict[str, Any]:
    """Totals per holder for the month: days worked, late (count, minutes), early leave
    (count, minutes), absences, missing punches, leave by kind (whole days, and minutes
    with part days), overtime by kind (work day, rest day, holiday)."""
    first, last = month_bounds(month)
    rows = result_list(first=first, last=last, department=department)
    totals: dict[int, dict[str, Any]] = {}
    for r in rows.iterator(chunk_size=2000):
        t = totals.get(r.cardholder_id)
        if t is None:
            t = totals[r.cardholder_id] = {
                "cardholder": r.cardholder.number, "name": r.cardholder.name,
                "rostered_days": 0, "days_worked": 0, "late_count": 0, "late_minutes": 0,
                "early_count": 0, "early_minutes": 0, "absent_days": 0,
                "missing_punch_days": 0, "off_days": 0, "worked_minutes": 0,
                "leave_days": defaultdict(int), "leave_minutes": defaultdict(int),
                "overtime_minutes": defaultdict(int),
                "corrected_days": 0, "flagged_days": 0}
        t["rostered_days"] += 1
        status = Status(r.status)
        t["days_worked"] += status in WORKED
        t["late_count"] += r.late_minutes > 0
        t["late_minutes"] += r.late_minutes
        t["early_count"] += r.early_minutes > 0
        t["early_minutes"] += r.early_minutes
        t["absent_days"] += status == Status.ABSENT
        t["missing_punch_days"] += status == Status.MISSING_PUNCH
        t["off_days"] += status == Status.OFF
        t["worked_minutes"] += r.worked_minutes
        t["corrected_days"] += r.corrected
        t["flagged_days"] += r.flagged
        if r.leave_kind:  # whole days on leave, and every minute of leave (part days too)
            t["leave_days"][r.leave_kind] += status == Status.ON_LEAVE
            t["leave_minutes"][r.leave_kind] += r.leave_minutes
        if r.overtime_minutes:
            t["overtime_minutes"][r.overtime_kind or OvertimeKindChoice.WORKDAY] += \
                r.overtime_minutes
    holders = []
    for t in sorted(totals.values(), key=lambda t: t["cardholder"]):
        t["leave_days"] = {k: t["leave_days"].get(k, 0) for k in LeaveKind.values}
        t["leave_minutes"] = {k: t["leave_minutes"].get(k, 0) for k in LeaveKind.values}
        t["overtime_minutes"] = {k: t["overtime_minutes"].get(k, 0) for k in
                                 (OvertimeKindChoice.WORKDAY, OvertimeKindChoice.REST_DAY,
                                  OvertimeKindChoice.HOLIDAY)}
        holders.append(t)
    return {"month": f"{first:%Y-%m}", "department": department, "count": len(holders),
            "holders": holders}

