"""Every write of attendance: shifts, rosters, leave, corrections, supervisors, month
closing and exceptions; punches heard from the ingest. Each is one transaction with
its audit event, and marks the days it touches for computing (`compute.days_queue`):
the results follow once it commits and the task has run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.errors import UnknownCardholders
from accounts.models import Cardholder
from accounts.selectors import (
    cardholder_ids_in_org_units,
    cardholder_locked,
    cardholder_org_units,
    cardholders_by_number,
    holders_of_cards,
    org_unit_ancestry,
    org_units_below,
    org_units_by_code,
)
from attendance import compute
from attendance.errors import (
    CorrectionDecided,
    ExceptionResolved,
    LeaveOverlaps,
    MonthAlreadyClosed,
    NotSupervisor,
    ShiftCodeInUse,
    UnknownShifts,
)
from attendance.models import (
    AttendanceException,
    Correction,
    CorrectionStatus,
    ExceptionKind,
    ExceptionStatus,
    Leave,
    LeaveStatus,
    MonthClose,
    RosterEntry,
    Shift,
    Supervisor,
)
from core.errors import InvalidRequest
from core.roles import Role, has_role

SHIFT_FIELDS = ("name", "start", "end", "grace_minutes", "early_grace_minutes",
                "break_minutes", "overtime_after_minutes", "round_in_minutes",
                "round_in_direction", "round_out_minutes", "round_out_direction",
                "core_from", "core_to", "required_minutes")


def _holder(number: str) -> Cardholder:
    holder = cardholders_by_number([number]).get(number)
    if holder is None:
        raise UnknownCardholders(_("Unknown cardholders: %(n)s; nothing was changed.")
                                 % {"n": number}, cardholders=[number])
    return holder


def _shift_check(values: Mapping[str, Any]) -> None:
    flexible = [values.get(k) is not None for k in ("core_from", "core_to", "required_minutes")]
    if any(flexible) and not all(flexible):
        raise InvalidRequest(_("A flexible shift needs core_from, core_to and "
                               "required_minutes."), field="flexible")
    if values.get("start") == values.get("end"):
        raise InvalidRequest(_("A shift cannot start and end at the same time."), field="end")
    for kind in ("in", "out"):
        if values.get(f"round_{kind}_minutes") and not values.get(f"round_{kind}_direction"):
            raise InvalidRequest(_("Rounding needs a direction."), field="rounding")


# --- Shifts ----------------------------------------------------------------------------


@transaction.atomic
def shift_create(*, code: str, by: Any, channel: str = "api", **values: Any) -> Shift:
    _shift_check(values)
    try:
        with transaction.atomic():
            shift = Shift.objects.create(code=code, **{k: v for k, v in values.items()
                                                       if k in SHIFT_FIELDS})
    except IntegrityError as exc:
        raise ShiftCodeInUse(_("A shift %(c)s already exists.") % {"c": code}) from exc
    audit_record(action="attendance.shift_create", actor=by, subject=shift,
                 subject_id=code, after={"code": code}, channel=channel)
    return shift


@transaction.atomic
def shift_update(*, shift: Shift, by: Any, channel: str = "api", **values: Any) -> Shift:
    """Change a shift; every rostered day that uses it, up to today, is computed again
    (a closed month's raise exceptions instead)."""
    shift = Shift.objects.select_for_update().get(pk=shift.pk)
    merged = {k: getattr(shift, k) for k in SHIFT_FIELDS} | {
        k: v for k, v in values.items() if k in SHIFT_FIELDS}
    _shift_check(merged)
    for name, value in merged.items():
        setattr(shift, name, value)
    shift.save()
    audit_record(action="attendance.shift_update", actor=by, subject=shift,
                 subject_id=shift.code, after={k: str(v) for k, v in values.items()},
                 channel=channel)
    entries = RosterEntry.objects.filter(shift=shift)
    today = timezone.localdate()
    for entry in entries:
        compute.days_queue(_entry_days(entry, today), cause=ExceptionKind.CHANGE)
    return shift


def _entry_days(entry: RosterEntry, today: dt.date) -> set[tuple[int, dt.date]]:
    # The entry's days and their neighbours: a punch may move between adjacent days.
    days = compute.rostered_days([entry.cardholder_id], entry.first, min(entry.last, today))
    return {(h, d + k * compute.DAY) for h, d in days for k in (-1, 0, 1)}


# --- Rosters ---------------------------------------------------------------------------


@transaction.atomic
def roster_put(*, entries: Sequence[Mapping[str, Any]], by: Any,
               channel: str = "api") -> list[RosterEntry]:
    """Add roster entries, in order: each overrides earlier ones on the days both cover.
    An unknown holder or shift refuses the whole list, naming them."""
    numbers = [e["cardholder"] for e in entries]
    holders = cardholders_by_number(numbers)
    missing = sorted(set(numbers) - set(holders))
    if missing:
        raise UnknownCardholders(_("Unknown cardholders: %(n)s; nothing was changed.")
                                 % {"n": ", ".join(missing)}, cardholders=missing)
    codes = {e["shift"] for e in entries if e.get("shift")}
    shifts = {s.code: s for s in Shift.objects.filter(code__in=codes)}
    unknown = sorted(codes - set(shifts))
    if unknown:
        raise UnknownShifts(_("Unknown shifts: %(s)s; nothing was changed.")
                            % {"s": ", ".join(unknown)}, shifts=unknown)
    made = []
    for i, e in enumerate(entries):
        if e["to"] < e["from"]:
            raise InvalidRequest(_("Entry %(i)d: to is before from.") % {"i": i + 1},
                                 field="entries")
        made.append(RosterEntry(cardholder=holders[e["cardholder"]], first=e["from"],
                                last=e["to"], weekdays=sorted(set(e["weekdays"])),
                                shift=shifts.get(e.get("shift") or ""),
                                created_by=by if getattr(by, "pk", None) else None))
    made = RosterEntry.objects.bulk_create(made)
    holders_named = sorted(set(numbers))
    # The subject names one holder; a roster for many lists them in `after` (subject ids
    # are short).
    audit_record(action="attendance.roster_put", actor=by, subject_type="roster",
                 subject_id=holders_named[0] if len(holders_named) == 1
                 else f"{len(holders_named)} cardholders",
                 after={"entries": len(made), "cardholders": holders_named}, channel=channel)
    today = timezone.localdate()
    touched: set[tuple[int, dt.date]] = set()
    for entry in made:
        # Every day in the entry's period, rostered by it or not: a day it overrides
        # may now be a rest day, or no longer rostered.
        first, last = entry.first - compute.DAY, min(entry.last, today) + compute.DAY
        touched |= {(entry.cardholder_id, d) for d in compute._dates(first, last)}
    compute.days_queue(touched, cause=ExceptionKind.CHANGE)
    return made


# --- Leave -----------------------------------------------------------------------------


@transaction.atomic
def leave_create(*, cardholder: str, start: dt.datetime, end: dt.datetime, kind: str,
                 by: Any, note: str = "", channel: str = "api") -> Leave:
    """Approved leave (HR records it, and is the approver): a day wholly inside it is
    `on_leave`, a day partly inside it owes the rest."""
    if end <= start:
        raise InvalidRequest(_("to must be later than from."), field="to")
    holder = cardholder_locked(_holder(cardholder))
    if Leave.objects.filter(cardholder=holder, status=LeaveStatus.APPROVED, start__lt=end,
                            end__gt=start).exists():
        raise LeaveOverlaps()
    leave = Leave.objects.create(cardholder=holder, start=start, end=end, kind=kind,
                                 note=note, approved_by=by if getattr(by, "pk", None) else None)
    audit_record(action="attendance.leave_create", actor=by, subject=leave,
                 subject_id=str(leave.pk), after={"cardholder": cardholder, "kind": kind,
                                                  "from": start.isoformat(),
                                                  "to": end.isoformat()}, channel=channel)
    compute.days_queue(compute.period_days([holder.pk], start, end), cause=ExceptionKind.CHANGE)
    return leave


@transaction.atomic
def leave_cancel(*, leave: Leave, by: Any, channel: str = "api") -> Leave:
    leave = Leave.objects.select_for_update().get(pk=leave.pk)
    leave.status = LeaveStatus.CANCELLED
    leave.save(update_fields=["status"])
    audit_record(action="attendance.leave_cancel", actor=by, subject=leave,
                 subject_id=str(leave.pk), channel=channel)
    compute.days_queue(compute.period_days([leave.cardholder_id], leave.start, leave.end),
                       cause=ExceptionKind.CHANGE)
    return leave


# --- Corrections -----------------------------------------------------------------------


def may_correct(user: Any, holder_id: int) -> bool:
    """HR, or a supervisor of the holder's org unit or of a unit above it."""
    if has_role(user, Role.HR):
        return True
    units = set(Supervisor.objects.filter(user=user).values_list("org_unit_id", flat=True))
    at = cardholder_org_units([holder_id]).get(holder_id)
    return bool(units) and at is not None and bool(
        units & set(org_unit_ancestry().get(at, [at])))


@transaction.atomic
def correction_add(*, cardholder: str, ts: dt.datetime, reason: str, by: Any,
                   channel: str = "api") -> Correction:
    """A missing punch, pending until HR approves it (it counts only then)."""
    holder = _holder(cardholder)
    if not may_correct(by, holder.pk):
        raise NotSupervisor()
    if not reason.strip():
        raise InvalidRequest(_("Say why the punch is missing."), field="reason")
    correction = Correction.objects.create(cardholder=holder, ts=ts, reason=reason.strip(),
                                           requested_by=by)
    audit_record(action="attendance.correction_add", actor=by, subject=correction,
                 subject_id=str(correction.pk),
                 after={"cardholder": cardholder, "ts": ts.isoformat(), "reason": reason},
                 channel=channel)
    return correction


@transaction.atomic
def correction_decide(*, correction: Correction, approve: bool, by: Any,
                      channel: str = "api") -> Correction:
    correction = Correction.objects.select_for_update().get(pk=correction.pk)
    if correction.status != CorrectionStatus.PENDING:
        raise CorrectionDecided()
    correction.status = CorrectionStatus.APPROVED if approve else CorrectionStatus.REJECTED
    correction.decided_by, correction.decided_at = by, timezone.now()
    correction.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(action=f"attendance.correction_{'approve' if approve else 'reject'}",
                 actor=by, subject=correction, subject_id=str(correction.pk), channel=channel)
    if approve:
        compute.days_queue(compute.punch_days([(correction.cardholder_id, correction.ts)]),
                           cause=ExceptionKind.CORRECTION)
    return correction


@transaction.atomic
def supervisor_set(*, user: Any, org_unit: str, by: Any, channel: str = "api") -> Supervisor:
    unit = org_units_by_code([org_unit]).get(org_unit)
    if unit is None:
        raise InvalidRequest(_("No org unit %(u)s.") % {"u": org_unit}, field="org_unit")
    supervisor, _made = Supervisor.objects.get_or_create(user=user, org_unit=unit)
    audit_record(action="attendance.supervisor_set", actor=by, subject=supervisor,
                 subject_id=f"{user.pk}:{org_unit}", channel=channel)
    return supervisor


# --- Punches, heard from the ingest ----------------------------------------------------


def punches_heard(punches: Sequence[tuple[int, int]]) -> int:
    """(card id, clock time) of accepted punches, in the ingest's transaction: the days
    they may belong to are marked, and computed once the upload has committed."""
    if not punches:
        return 0
    holders = holders_of_cards({card for card, _ts in punches})
    moments = [(holders[card], dt.datetime.fromtimestamp(ts, dt.UTC))
               for card, ts in punches if card in holders]
    return compute.days_queue(compute.punch_days(moments), cause=ExceptionKind.LATE_PUNCH)


def days_due_mark(*, day: dt.date | None = None) -> int:
    """Mark every rostered day of `day` (yesterday by default) and the day before it:
    a day with no punch at all (an absence) is computed too. Run nightly."""
    day = day or timezone.localdate() - compute.DAY
    return compute.days_queue(compute.rostered_days(None, day - compute.DAY, day),
                              cause=ExceptionKind.CHANGE)


# --- Month closing and its exceptions --------------------------------------------------


def _month_days(month: dt.date) -> tuple[dt.date, dt.date]:
    first = month.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - compute.DAY
    return first, last


@transaction.atomic
def month_close(*, month: dt.date, department: str | None, by: Any,
                channel: str = "api") -> MonthClose:
    """Close a month for a department (and the units below it), or for everyone: its
    days are computed one last time, then never changed again."""
    unit = None
    if department is not None:
        unit = org_units_by_code([department]).get(department)
        if unit is None:
            raise InvalidRequest(_("No department %(d)s.") % {"d": department},
                                 field="department")
    first, last = _month_days(month)
    compute.pending_days_compute()  # what is marked is computed before the month is closed
    holders = None if unit is None else sorted(
        cardholder_ids_in_org_units(org_units_below([unit.pk])))
    compute.results_compute(compute.rostered_days(holders, first, last))
    try:
        with transaction.atomic():
            closed = MonthClose.objects.create(month=first, org_unit=unit, closed_by=by)
    except IntegrityError as exc:
        raise MonthAlreadyClosed() from exc
    audit_record(action="attendance.month_close", actor=by, subject=closed,
                 subject_id=f"{first:%Y-%m}:{department or '*'}", channel=channel)
    return closed


@transaction.atomic
def exception_resolve(*, exception: AttendanceException, apply: bool, by: Any, note: str = "",
                      channel: str = "api") -> AttendanceException:
    """HR decides: `apply` writes the result the rules propose into the closed month
    (audited); otherwise the closed result stands. Either way the exception is closed."""
    exception = AttendanceException.objects.select_for_update().get(pk=exception.pk)
    if exception.status != ExceptionStatus.OPEN:
        raise ExceptionResolved()
    if apply:
        compute.results_write_closed(exception.cardholder_id, exception.date)
    exception.status = ExceptionStatus.RESOLVED
    exception.resolved_by, exception.resolved_at, exception.note = by, timezone.now(), note
    exception.save(update_fields=["status", "resolved_by", "resolved_at", "note"])
    audit_record(action="attendance.exception_resolve", actor=by, subject=exception,
                 subject_id=str(exception.pk), after={"apply": apply, "note": note},
                 channel=channel)
    return exception

