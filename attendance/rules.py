"""How one holder's punches on one rostered day become that day's result: pure functions,
no ORM and no clock, so the same inputs give the same row wherever they are computed
(the recompute task, the property test, the bench).

The day's inputs are what the roster says (a shift, or a rest day), whether the day is
a holiday, the holder's approved leave over it, and the punches inside the shift's punch
window (moments as aware datetimes; machine punches and approved corrections alike).

Choices where the contract is silent (docs/ARCHITECTURE.md, Attendance):
- Punches by one card within 60 s of the last one counted count once (a double tap).
- Rounding is applied to the first punch (`in`) and the last (`out`) before late and
  early minutes are judged.
- Late: the first punch after the start plus the grace; the minutes count from the
  start. Early leave alike from the end. A part-day leave covering the start (or the
  end) moves it to the leave's end (or start).
- Worked minutes: the time between the first and last punch inside the shift, less the
  break, taken as centred in the shift, for the part of it the span covers.
- Overtime: minutes after the shift's end, counted whole once they reach the shift's
  threshold (`overtime_after_minutes`). On a rest day or a holiday every minute worked
  is overtime, of its own kind.
- One punch alone on a work day is `missing_punch`; none is `absent`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

DOUBLE_TAP = dt.timedelta(seconds=60)
DAY = dt.timedelta(days=1)
# How far before a shift's start and after its end a punch still belongs to it, at most
# (less when the shift is long: a day's window never reaches into the next day's).
WINDOW_MAX = dt.timedelta(hours=4)


class Status(StrEnum):
    NORMAL = "normal"
    LATE = "late"
    EARLY_LEAVE = "early_leave"
    LATE_AND_EARLY = "late_and_early"
    MISSING_PUNCH = "missing_punch"
    ABSENT = "absent"
    ON_LEAVE = "on_leave"
    OFF = "off"


class OvertimeKind(StrEnum):
    NONE = ""
    WORKDAY = "workday"
    REST_DAY = "rest_day"
    HOLIDAY = "holiday"


class Direction(StrEnum):
    DOWN = "down"
    UP = "up"
    NEAREST = "nearest"


@dataclass(frozen=True)
class Rounding:
    minutes: int
    direction: Direction

    def apply(self, at: dt.datetime) -> dt.datetime:
        """`at` moved to a multiple of the interval on the local clock (punches are whole
        seconds; anything finer is dropped first)."""
        at = at.replace(microsecond=0)
        step = max(1, self.minutes) * 60
        offset = int((at.utcoffset() or dt.timedelta()).total_seconds())
        local = int(at.timestamp()) + offset
        down = local - local % step
        if self.direction == Direction.DOWN or local == down:
            target = down
        elif self.direction == Direction.UP:
            target = down + step
        else:
            target = down + step if local - down >= step / 2 else down
        return at + dt.timedelta(seconds=target - local)


@dataclass(frozen=True)
class Flexible:
    core_from: dt.time
    core_to: dt.time
    required_minutes: int


@dataclass(frozen=True)
class Shift:
    code: str
    start: dt.time
    end: dt.time  # at or before start: the shift ends the next day
    grace_minutes: int = 0
    early_grace_minutes: int | None = None  # None: the same as grace_minutes
    break_minutes: int = 0
    overtime_after_minutes: int = 0
    round_in: Rounding | None = None
    round_out: Rounding | None = None
    flexible: Flexible | None = None

    def bounds(self, day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        start = dt.datetime.combine(day, self.start, zone)
        end = dt.datetime.combine(day + DAY if self.end <= self.start else day, self.end, zone)
        return start, end

    def window(self, day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """The punches that belong to this shift on `day`: [from, to)."""
        start, end = self.bounds(day, zone)
        margin = min(WINDOW_MAX, (dt.timedelta(days=1) - (end - start)) / 2)
        return start - margin, end + margin

    def core(self, day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """The span late and early are judged against: the shift, or a flexible core."""
        if self.flexible is None:
            return self.bounds(day, zone)
        start, _end = self.bounds(day, zone)
        core_from = dt.datetime.combine(day, self.flexible.core_from, zone)
        if core_from < start:
            core_from += DAY
        core_to = dt.datetime.combine(core_from.date(), self.flexible.core_to, zone)
        if core_to <= core_from:
            core_to += DAY
        return core_from, core_to


@dataclass(frozen=True)
class Day:
    """What is known of one holder's day before the punches: the roster's shift (None
    on a rest day), whether it is a holiday, and the approved leave over it."""

    date: dt.date
    shift: Shift | None
    holiday: bool = False
    leave: tuple[tuple[dt.datetime, dt.datetime], ...] = ()


@dataclass(frozen=True)
class Result:
    date: dt.date
    shift: str | None
    status: Status
    first_in: dt.datetime | None = None
    last_out: dt.datetime | None = None
    late_minutes: int = 0
    early_minutes: int = 0
    worked_minutes: int = 0
    overtime_minutes: int = 0
    overtime_kind: OvertimeKind = OvertimeKind.NONE
    leave_minutes: int = 0


def counted(punches: Iterable[dt.datetime]) -> list[dt.datetime]:
    """The punches that count, in time order: one within 60 s of the last counted one
    is the same punch."""
    kept: list[dt.datetime] = []
    for at in sorted(punches):
        if not kept or at - kept[-1] >= DOUBLE_TAP:
            kept.append(at)
    return kept


def _minutes(delta: dt.timedelta) -> int:
    return max(0, int(delta.total_seconds() // 60))


def _overlap(a: tuple[dt.datetime, dt.datetime], b: tuple[dt.datetime, dt.datetime],
             ) -> dt.timedelta:
    return max(dt.timedelta(), min(a[1], b[1]) - max(a[0], b[0]))


def _union_minutes(spans: Sequence[tuple[dt.datetime, dt.datetime]],
                   within: tuple[dt.datetime, dt.datetime]) -> int:
    """Minutes of `within` covered by any of the spans (overlapping leave counted once)."""
    clipped = sorted((max(a, within[0]), min(b, within[1])) for a, b in spans
                     if min(b, within[1]) > max(a, within[0]))
    total, cursor = dt.timedelta(), within[0]
    for a, b in clipped:
        a = max(a, cursor)
        if b > a:
            total += b - a
            cursor = b
    return _minutes(total)


def _effective(span: tuple[dt.datetime, dt.datetime],
               leave: Sequence[tuple[dt.datetime, dt.datetime]],
               ) -> tuple[dt.datetime, dt.datetime]:
    """The span owed once leave at its start or its end is taken off."""
    start, end = span
    moved = True
    while moved:  # leave pieces may chain (morning leave, then a meeting-leave after it)
        moved = False
        for a, b in leave:
            if a <= start < b:
                start, moved = b, True
            if a < end <= b:
                end, moved = a, True
    return start, max(start, end)


def day_result(day: Day, punches: Iterable[dt.datetime], zone: dt.tzinfo) -> Result:
    """The result of one rostered day from the punches inside its window (any order,
    double taps included)."""
    times = counted(punches)
    shift = day.shift
    if shift is None or day.holiday:
        return _rest_day(day, times)
    span = shift.bounds(day.date, zone)
    leave_minutes = _union_minutes(day.leave, span)
    owed = _effective(span, day.leave)
    if owed[1] <= owed[0]:
        return Result(date=day.date, shift=shift.code, status=Status.ON_LEAVE,
                      leave_minutes=leave_minutes)
    if not times:
        return Result(date=day.date, shift=shift.code, status=Status.ABSENT,
                      leave_minutes=leave_minutes)
    if len(times) == 1:
        return Result(date=day.date, shift=shift.code, status=Status.MISSING_PUNCH,
                      first_in=times[0], leave_minutes=leave_minutes)
    first = shift.round_in.apply(times[0]) if shift.round_in else times[0]
    last = shift.round_out.apply(times[-1]) if shift.round_out else times[-1]
    last = max(first, last)
    core = _effective(shift.core(day.date, zone), day.leave) if shift.flexible else owed
    grace = dt.timedelta(minutes=shift.grace_minutes)
    early_grace = dt.timedelta(minutes=shift.grace_minutes if shift.early_grace_minutes is None
                               else shift.early_grace_minutes)
    late = _minutes(first - core[0]) if first > core[0] + grace else 0
    early = _minutes(core[1] - last) if last < core[1] - early_grace else 0
    middle = span[0] + (span[1] - span[0]) / 2
    rest = dt.timedelta(minutes=shift.break_minutes)
    pause = (middle - rest / 2, middle + rest / 2)
    worked = _minutes(_overlap((first, last), span) - _overlap((first, last), pause))
    if shift.flexible is not None:
        short = max(0, shift.flexible.required_minutes - leave_minutes - worked)
        early = max(early, short)
    past_end = _minutes(last - span[1])
    overtime = past_end if past_end and past_end >= shift.overtime_after_minutes else 0
    status = (Status.LATE_AND_EARLY if late and early else Status.LATE if late
              else Status.EARLY_LEAVE if early else Status.NORMAL)
    return Result(date=day.date, shift=shift.code, status=status, first_in=first,
                  last_out=last, late_minutes=late, early_minutes=early,
                  worked_minutes=worked, overtime_minutes=overtime,
                  overtime_kind=OvertimeKind.WORKDAY if overtime else OvertimeKind.NONE,
                  leave_minutes=leave_minutes)


def _rest_day(day: Day, times: list[dt.datetime]) -> Result:
    code = day.shift.code if day.shift else None
    kind = OvertimeKind.HOLIDAY if day.holiday else OvertimeKind.REST_DAY
    if len(times) < 2:
        return Result(date=day.date, shift=code, status=Status.OFF,
                      first_in=times[0] if times else None)
    worked = _minutes(times[-1] - times[0])
    return Result(date=day.date, shift=code, status=Status.OFF, first_in=times[0],
                  last_out=times[-1], worked_minutes=worked, overtime_minutes=worked,
                  overtime_kind=kind if worked else OvertimeKind.NONE)


def _distance(day: Day, at: dt.datetime, zone: dt.tzinfo) -> dt.timedelta:
    """How far `at` lies outside the day's shift (zero inside it)."""
    assert day.shift is not None
    start, end = day.shift.bounds(day.date, zone)
    return max(start - at, at - end, dt.timedelta())


def assign(days: Sequence[Day], punches: Iterable[dt.datetime], zone: dt.tzinfo,
           ) -> dict[dt.date, list[dt.datetime]]:
    """Each punch to the one day it belongs to, among consecutive rostered days: a work
    day's window first (the nearest shift when two windows hold it: a night shift's
    07:58 punch is yesterday's), a rest day's calendar day otherwise. A punch no day
    claims belongs to none."""
    windows = [(day, day_window(day, zone), day.shift is not None and not day.holiday)
               for day in days]
    out: dict[dt.date, list[dt.datetime]] = {day.date: [] for day in days}
    for at in punches:
        work = [(day, w) for day, w, is_work in windows if is_work and w[0] <= at < w[1]]
        if work:
            nearest = min(work, key=lambda item: _distance(item[0], at, zone))
            out[nearest[0].date].append(at)
            continue
        rest = [day for day, w, is_work in windows if not is_work and w[0] <= at < w[1]]
        if rest:
            out[rest[0].date].append(at)
    return out


def rest_window(day: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """A rest day's punches: its own calendar day."""
    start = dt.datetime.combine(day, dt.time(0), zone)
    return start, start + DAY


def day_window(day: Day, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    if day.shift is None or day.holiday:
        return rest_window(day.date, zone)
    return day.shift.window(day.date, zone)
