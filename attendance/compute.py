"""Daily results from the database: read a set of holders' rosters, holidays, leave,
punches and approved corrections over a period, run `rules.day_result` on every
rostered day, and write the rows (or, for a closed month, an exception instead).

Everything is read per slice of holders in a handful of queries, so a month for
thousands of staff is a few dozen queries, and recomputing a late batch's days touches
only those days (`days_compute`). The same inputs give the same rows: computing twice
changes nothing, and the order punches arrived in never matters."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.selectors import cardholder_org_units, cards_of_holders, org_unit_ancestry
from attendance.models import (
    AttendanceException,
    Correction,
    CorrectionStatus,
    DayResult,
    ExceptionKind,
    ExceptionStatus,
    Leave,
    LeaveStatus,
    MonthClose,
    PendingDay,
    RosterEntry,
    Shift,
)
from attendance.rules import (
    DAY,
    WINDOW_MAX,
    Day,
    Direction,
    Flexible,
    Result,
    Rounding,
    assign,
    day_result,
)
from attendance.rules import Shift as ShiftRule
from core.calendar import holidays_between
from terminals.selectors import punches_of_cards

SLICE = 500  # holders read and written per round
# Days either side of a computed day whose roster decides which day a punch belongs to.
NEIGHBOURS = 1
RESULT_FIELDS = ["shift", "status", "first_in", "last_out", "late_minutes", "early_minutes",
                 "worked_minutes", "overtime_minutes", "overtime_kind", "leave_minutes",
                 "leave_kind", "corrected", "flagged", "computed_at"]


def zone() -> dt.tzinfo:
    return ZoneInfo(settings.TIME_ZONE)


def shift_rule(shift: Shift) -> ShiftRule:
    """A stored shift as the rules read it."""
    return ShiftRule(
        code=shift.code, start=shift.start, end=shift.end, grace_minutes=shift.grace_minutes,
        early_grace_minutes=shift.early_grace_minutes, break_minutes=shift.break_minutes,
        overtime_after_minutes=shift.overtime_after_minutes,
        round_in=Rounding(shift.round_in_minutes, Direction(shift.round_in_direction))
        if shift.round_in_minutes else None,
        round_out=Rounding(shift.round_out_minutes, Direction(shift.round_out_direction))
        if shift.round_out_minutes else None,
        flexible=Flexible(shift.core_from, shift.core_to, shift.required_minutes)
        if shift.core_from is not None and shift.core_to is not None
        and shift.required_minutes is not None else None)


def _dates(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += DAY


@dataclass
class _Inputs:
    """One slice of holders' inputs over [first, last] (plus the neighbouring days)."""

    rosters: dict[int, list[RosterEntry]]
    shifts: dict[int, ShiftRule]
    holidays: set[dt.date]
    leave: dict[int, list[Leave]]
    punches: dict[int, list[tuple[dt.datetime, bool, bool]]]  # (at, card live, correction)

    def roster_day(self, holder: int, day: dt.date) -> tuple[bool, ShiftRule | None]:
        """(rostered, shift or None for a rest day): the latest entry covering the day."""
        for entry in reversed(self.rosters.get(holder, [])):
            if entry.first <= day <= entry.last and day.isoweekday() in entry.weekdays:
                return True, self.shifts[entry.shift_id] if entry.shift_id else None
        return False, None


def _inputs(holders: list[int], first: dt.date, last: dt.date) -> _Inputs:
    tz = zone()
    lo, hi = first - NEIGHBOURS * DAY, last + NEIGHBOURS * DAY
    start = dt.datetime.combine(lo, dt.time(0), tz) - WINDOW_MAX
    end = dt.datetime.combine(hi + DAY, dt.time(0), tz) + WINDOW_MAX
    rosters: dict[int, list[RosterEntry]] = defaultdict(list)
    for entry in (RosterEntry.objects.filter(cardholder_id__in=holders, first__lte=hi,
                                             last__gte=lo).order_by("id")):
        rosters[entry.cardholder_id].append(entry)
    shift_ids = {e.shift_id for es in rosters.values() for e in es if e.shift_id}
    shifts = {s.pk: shift_rule(s) for s in Shift.objects.filter(pk__in=shift_ids)}
    leave: dict[int, list[Leave]] = defaultdict(list)
    for item in Leave.objects.filter(cardholder_id__in=holders, status=LeaveStatus.APPROVED,
                                     start__lt=end, end__gt=start):
        leave[item.cardholder_id].append(item)
    cards = cards_of_holders(holders)
    punches: dict[int, list[tuple[dt.datetime, bool, bool]]] = defaultdict(list)
    for card, ts in punches_of_cards(cards.keys(), start, end):
        holder, live = cards[card]
        punches[holder].append((dt.datetime.fromtimestamp(ts, tz), live, False))
    for holder, at in (Correction.objects.filter(
            cardholder_id__in=holders, status=CorrectionStatus.APPROVED, ts__gte=start,
            ts__lt=end).values_list("cardholder_id", "ts")):
        punches[holder].append((at.astimezone(tz), True, True))
    return _Inputs(rosters=rosters, shifts=shifts, holidays=holidays_between(lo, hi),
                   leave=leave, punches=punches)


def _leave_kind(day: Day, leave: list[Leave], result: Result) -> str:
    """The kind of the leave covering most of the day's shift (a day may mix two)."""
    if not result.leave_minutes or day.shift is None:
        return ""
    span = day.shift.bounds(day.date, zone())
    best = max(leave, key=lambda item: min(item.end, span[1]) - max(item.start, span[0]))
    return best.kind


def _holder_results(holder: int, dates: Collection[dt.date], inputs: _Inputs,
                    ) -> dict[dt.date, DayResult | None]:
    """The rows of one holder's days (None: the day is not rostered any more)."""
    tz = zone()
    wanted = sorted(dates)
    around = sorted({d + k * DAY for d in wanted for k in range(-NEIGHBOURS, NEIGHBOURS + 1)})
    days: list[Day] = []
    leave = inputs.leave.get(holder, [])
    for date in around:
        rostered, shift = inputs.roster_day(holder, date)
        if rostered:
            days.append(Day(date=date, shift=shift, holiday=date in inputs.holidays,
                            leave=tuple((item.start, item.end) for item in leave)))
    punches = inputs.punches.get(holder, [])
    meta = {at: (live, corrected) for at, live, corrected in punches}
    assigned = assign(days, [at for at, _live, _c in punches], tz)
    by_date = {day.date: day for day in days}
    now = timezone.now()
    out: dict[dt.date, DayResult | None] = {}
    for date in wanted:
        day = by_date.get(date)
        if day is None:
            out[date] = None
            continue
        mine = assigned.get(date, [])
        result = day_result(day, mine, tz)
        out[date] = DayResult(
            cardholder_id=holder, date=date, shift=result.shift or "", status=result.status,
            first_in=result.first_in, last_out=result.last_out,
            late_minutes=result.late_minutes, early_minutes=result.early_minutes,
            worked_minutes=result.worked_minutes, overtime_minutes=result.overtime_minutes,
            overtime_kind=result.overtime_kind.value, leave_minutes=result.leave_minutes,
            leave_kind=_leave_kind(day, leave, result),
            corrected=any(meta[at][1] for at in mine),
            flagged=any(not meta[at][0] for at in mine), computed_at=now)
    return out


def result_as_dict(row: DayResult | None) -> dict[str, object] | None:
    """What an exception keeps of a proposed row (JSON)."""
    if row is None:
        return None
    return {name: (value.astimezone(zone()).isoformat() if isinstance(value, dt.datetime)
                   else value)
            for name in RESULT_FIELDS if name != "computed_at"
            for value in [getattr(row, name)]}


class _Closed:
    """Which (holder, month) pairs are closed: by a close for everyone, or for the
    holder's org unit or a unit above it."""

    def __init__(self, holders: Collection[int], first: dt.date, last: dt.date) -> None:
        closes = MonthClose.objects.filter(month__gte=first.replace(day=1), month__lte=last)
        self._months: dict[dt.date, set[int | None]] = defaultdict(set)
        for month, unit in closes.values_list("month", "org_unit_id"):
            self._months[month].add(unit)
        self._chains: dict[int, set[int | None]] = {}
        if self._months:
            ancestry = org_unit_ancestry()
            units = cardholder_org_units(holders)
            for holder in holders:
                chain: set[int | None] = {None}
                placed = units.get(holder)
                if placed is not None:
                    chain.update(ancestry.get(placed, [placed]))
                self._chains[holder] = chain

    def closed(self, holder: int, date: dt.date) -> bool:
        units = self._months.get(date.replace(day=1))
        if not units:
            return False
        return bool(units & self._chains.get(holder, {None}))


def _values(row: DayResult | None) -> tuple[object, ...] | None:
    # Moments compare as instants: a row read back is in UTC, a computed one local.
    return None if row is None else tuple(getattr(row, name) for name in RESULT_FIELDS
                                          if name != "computed_at")


def _differs(stored: DayResult | None, proposed: DayResult | None) -> bool:
    return _values(stored) != _values(proposed)


def results_compute(holder_days: Iterable[tuple[int, dt.date]], *,
                    cause: str = ExceptionKind.CHANGE, closed_too: bool = False) -> int:
    """Compute these holders' days and write them: a row made, changed or deleted (the
    day no longer rostered); in a closed month an open exception instead, when the row
    would change (unless `closed_too`: HR applying an exception). Returns how many rows
    changed."""
    wanted: dict[int, set[dt.date]] = defaultdict(set)
    for holder, date in holder_days:
        wanted[holder].add(date)
    changed = 0
    holders = sorted(wanted)
    for i in range(0, len(holders), SLICE):
        part = holders[i:i + SLICE]
        dates = [d for h in part for d in wanted[h]]
        first, last = min(dates), max(dates)
        with transaction.atomic():
            changed += _slice(part, wanted, first, last, cause, closed_too)
    return changed


def _slice(part: list[int], wanted: dict[int, set[dt.date]], first: dt.date, last: dt.date,
           cause: str, closed_too: bool) -> int:
    inputs = _inputs(part, first, last)
    closed = _Closed(part, first, last)
    stored = {(r.cardholder_id, r.date): r for r in DayResult.objects.filter(
        cardholder_id__in=part, date__gte=first, date__lte=last)}
    write: list[DayResult] = []
    drop: list[int] = []
    raise_: list[tuple[int, dt.date, DayResult | None]] = []
    for holder in part:
        for date, row in _holder_results(holder, wanted[holder], inputs).items():
            old = stored.get((holder, date))
            if not _differs(old, row):
                continue
            if not closed_too and closed.closed(holder, date):
                raise_.append((holder, date, row))
            elif row is None:
                drop.append(old.pk)  # type: ignore[union-attr]
            else:
                write.append(row)
    if write:
        DayResult.objects.bulk_create(write, update_conflicts=True,
                                      unique_fields=["cardholder", "date"],
                                      update_fields=RESULT_FIELDS)
    if drop:
        DayResult.objects.filter(pk__in=drop).delete()
    for holder, date, row in raise_:
        _exception_raise(holder, date, row, cause)
    return len(write) + len(drop)


def _exception_raise(holder: int, date: dt.date, row: DayResult | None, cause: str) -> None:
    """One open exception per holder, day and kind; a later change updates what it
    proposes."""
    proposed = {"result": result_as_dict(row)}
    updated = AttendanceException.objects.filter(
        cardholder_id=holder, date=date, kind=cause, status=ExceptionStatus.OPEN,
    ).update(proposed=proposed)
    if not updated:
        AttendanceException.objects.create(cardholder_id=holder, date=date, kind=cause,
                                           proposed=proposed)


def results_write_closed(holder: int, date: dt.date) -> int:
    """Write what the rules give now into a closed month's day (HR's decision)."""
    return results_compute([(holder, date)], closed_too=True)


def rostered_days(holders: Collection[int] | None, first: dt.date, last: dt.date,
                  ) -> list[tuple[int, dt.date]]:
    """Every (holder, date) in [first, last] that a roster entry covers (for the whole
    house when `holders` is None)."""
    entries = RosterEntry.objects.filter(first__lte=last, last__gte=first)
    if holders is not None:
        entries = entries.filter(cardholder_id__in=list(holders))
    out: set[tuple[int, dt.date]] = set()
    for holder, a, b, weekdays in entries.values_list("cardholder_id", "first", "last",
                                                       "weekdays"):
        for date in _dates(max(a, first), min(b, last)):
            if date.isoweekday() in weekdays:
                out.add((holder, date))
    return sorted(out)


# --- Days waiting to be computed -------------------------------------------------------


def days_queue(holder_days: Iterable[tuple[int, dt.date]], *, cause: str) -> int:
    """Mark these days for computing, in the caller's transaction, and have the task
    run once it commits. Days after today wait until they come."""
    today = timezone.localdate()
    rows = [PendingDay(cardholder_id=h, date=d, cause=cause)
            for h, d in set(holder_days) if d <= today]
    if not rows:
        return 0
    # A day already marked takes the newer cause: what a closed month's exception says.
    PendingDay.objects.bulk_create(rows, update_conflicts=True,
                                   unique_fields=["cardholder", "date"], update_fields=["cause"])
    transaction.on_commit(_enqueue)
    return len(rows)


def _enqueue() -> None:
    from django_q.tasks import async_task

    async_task("attendance.tasks.pending_days_compute", task_name="attendance-pending-days",
               group="attendance")


def pending_days_compute(*, limit: int = 2_000) -> int:
    """Compute the days marked pending and unmark them in the same transaction; rows
    another worker holds are skipped (it is computing them). Returns how many days were
    computed.

    A batch takes the marks in holder order, not in the order they came: a holder's
    days together are one read of their roster, leave and punches, where marks in
    arrival order (a roster for 5,000 staff marks them day by day, holder after holder
    at random) would read every holder's month once per batch. Each run goes on until
    no mark is left, so no day waits for more than that run."""
    done = 0
    while True:
        with transaction.atomic():
            batch = list(PendingDay.objects.select_for_update(skip_locked=True)
                         .order_by("cardholder_id", "date")[:limit]
                         .values_list("id", "cardholder_id", "date", "cause"))
            if not batch:
                return done
            by_cause: dict[str, list[tuple[int, dt.date]]] = defaultdict(list)
            for _pk, holder, date, cause in batch:
                by_cause[cause].append((holder, date))
            for cause, days in sorted(by_cause.items()):
                results_compute(days, cause=cause)
            PendingDay.objects.filter(pk__in=[row[0] for row in batch]).delete()
            done += len(batch)


def punch_days(punches: Iterable[tuple[int, dt.datetime]]) -> set[tuple[int, dt.date]]:
    """The days a punch may belong to: its own and either side (a night shift's, or a
    shift starting just after midnight)."""
    tz = zone()
    out = set()
    for holder, at in punches:
        local = at.astimezone(tz).date()
        out |= {(holder, local - DAY), (holder, local), (holder, local + DAY)}
    return out


def period_days(holders: Collection[int], start: dt.datetime, end: dt.datetime,
                ) -> set[tuple[int, dt.date]]:
    """Every day of these holders that a period (leave, a correction) can touch."""
    tz = zone()
    first = start.astimezone(tz).date() - DAY
    last = end.astimezone(tz).date() + DAY
    return {(h, d) for h in holders for d in _dates(first, last)}

