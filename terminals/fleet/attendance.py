"""Attendance clocks in the fleet, and what their punches should come to.

Before the run, `timetable` decides how each staff member's rostered days go (on time,
late, leaving early, a forgotten punch, absent, on leave, a double tap at the clock,
overtime, a forgotten punch HR corrects, some work on a rest day), which punches that
makes at which clock, and the result HR should then see for the day: the fleet's own
expectation, worked out from what it chose, not from the server's rules.

During the run each clock lives through the roster's days faster than real time
(`options.clock_share` of the run for all of them) and punches each card when its
moment comes; some clocks go offline for hours of that time, so their punches reach
the server late, after other clocks' later ones. At the end the server's results, once
its recompute task has run, are held against the expectation (`results_check`).

The rules the expectation follows are the contract's and docs/ARCHITECTURE.md's: late
when the first punch is past the start plus the grace, counted in whole minutes from
the start (early leave alike from the end); one punch alone is `missing_punch`, none
is `absent`; a second punch by the card within 60 s counts once; worked minutes are the
time between the first and last punch inside the shift, less the break in its middle;
overtime from the minutes past the end once they reach the threshold; on a rest day
every minute between the punches is overtime.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from terminals.fleet.plan import AttendancePlan, ShiftSpec, StaffSpec

MINUTE = 60
DAY = dt.timedelta(days=1)

# How a work day goes, and how often.
BEHAVIOURS: dict[str, float] = {
    "on_time": 0.50, "late": 0.09, "early_leave": 0.07, "late_and_early": 0.04,
    "forgot_in": 0.03, "forgot_out": 0.03, "absent": 0.03, "on_leave": 0.04,
    "double_tap": 0.06, "overtime": 0.05, "corrected": 0.03,
}
REST_DAY_WORK = 0.05  # a rest day on which the holder comes in for a few hours
DOUBLE_TAP_S = (5, 50)  # seconds between two taps of one card (they count once)


@dataclass(frozen=True)
class Expected:
    status: str
    first_in: int | None = None
    last_out: int | None = None
    late_minutes: int = 0
    early_minutes: int = 0
    worked_minutes: int = 0
    overtime_minutes: int = 0

    def as_dict(self) -> dict[str, int | str | None]:
        return {"status": self.status, "first_in": self.first_in, "last_out": self.last_out,
                "late_minutes": self.late_minutes, "early_minutes": self.early_minutes,
                "worked_minutes": self.worked_minutes,
                "overtime_minutes": self.overtime_minutes}


@dataclass(frozen=True)
class Punch:
    ts: int
    card_no: str
    clock: int  # index of the clock it is made at


@dataclass
class Timetable:
    punches: list[Punch] = field(default_factory=list)  # in time order
    leaves: list[tuple[str, int, int]] = field(default_factory=list)  # number, start, end
    corrections: list[tuple[str, int]] = field(default_factory=list)  # number, ts
    expected: dict[tuple[str, dt.date], Expected] = field(default_factory=dict)
    behaviours: Counter[str] = field(default_factory=Counter)

    def for_clock(self, clock: int) -> list[Punch]:
        return [p for p in self.punches if p.clock == clock]


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def _at(day: dt.date, minutes: int, zone: ZoneInfo) -> int:
    """The moment the wall clock shows `minutes` after midnight on `day`."""
    wall = dt.datetime.combine(day, dt.time(0)) + dt.timedelta(minutes=minutes)
    return int(wall.replace(tzinfo=zone).timestamp())


def _bounds(shift: ShiftSpec, day: dt.date, zone: ZoneInfo) -> tuple[int, int]:
    end_day = day + DAY if shift.end <= shift.start else day
    return _at(day, shift.start, zone), _at(end_day, shift.end, zone)


def _work_day(shift: ShiftSpec, span: tuple[int, int], first: int, last: int) -> Expected:
    start, end = span
    grace = shift.grace * MINUTE
    late = (first - start) // MINUTE if first > start + grace else 0
    early = (end - last) // MINUTE if last < end - grace else 0
    middle = start + (end - start) // 2
    pause = (middle - shift.break_minutes * MINUTE // 2,
             middle + shift.break_minutes * MINUTE // 2)
    worked = (_overlap((first, last), span) - _overlap((first, last), pause)) // MINUTE
    past_end = max(0, last - end) // MINUTE
    overtime = past_end if past_end and past_end >= shift.overtime_after else 0
    status = ("late_and_early" if late and early else "late" if late
              else "early_leave" if early else "normal")
    return Expected(status, first, last, late, early, max(0, worked), overtime)


class _Day:
    """One staff member's work day being planned."""

    def __init__(self, shift: ShiftSpec, span: tuple[int, int], rng: random.Random) -> None:
        self.shift, self.span, self.rng = shift, span, rng

    def on_time_in(self) -> int:
        return self.span[0] - self.rng.randrange(0, 30 * MINUTE)

    def late_in(self) -> int:
        return self.span[0] + self.rng.randint(self.shift.grace + 1, 90) * MINUTE \
            + self.rng.randrange(MINUTE)

    def on_time_out(self) -> int:
        # Before the overtime threshold: no overtime on an ordinary day.
        return self.span[1] + self.rng.randrange(0, min(40, max(1, self.shift.overtime_after))
                                                 * MINUTE)

    def early_out(self) -> int:
        return self.span[1] - self.rng.randint(self.shift.grace + 1, 120) * MINUTE \
            - self.rng.randrange(MINUTE)

    def overtime_out(self) -> int:
        return self.span[1] + self.rng.randint(max(1, self.shift.overtime_after), 180) * MINUTE \
            + self.rng.randrange(MINUTE)


def timetable(plan: AttendancePlan, time_zone: str, clocks: int,
              rng: random.Random) -> Timetable:
    """Every staff member's days, as the module's docstring says."""
    zone = ZoneInfo(time_zone)
    shifts = {s.code: s for s in plan.shifts}
    out = Timetable()
    kinds, weights = list(BEHAVIOURS), list(BEHAVIOURS.values())
    for member in plan.staff:
        shift = shifts[member.shift]
        day = plan.first
        while day <= plan.last:
            work = day.isoweekday() in plan.work_weekdays and day not in plan.holidays
            if work:
                kind = rng.choices(kinds, weights)[0]
                _plan_work_day(out, member, shift, _bounds(shift, day, zone), day, kind, clocks,
                               rng)
            else:
                _plan_rest_day(out, member, day, zone, clocks, rng)
            day += DAY
    out.punches.sort(key=lambda p: p.ts)
    return out


def _plan_work_day(out: Timetable, member: StaffSpec, shift: ShiftSpec, span: tuple[int, int],
                   day: dt.date, kind: str, clocks: int, rng: random.Random) -> None:
    out.behaviours[kind] += 1
    d = _Day(shift, span, rng)
    key = (member.number, day)

    def punch(ts: int) -> None:
        out.punches.append(Punch(ts, member.card_no, rng.randrange(clocks)))

    if kind == "absent":
        out.expected[key] = Expected("absent")
        return
    if kind == "on_leave":
        out.leaves.append((member.number, span[0], span[1]))
        out.expected[key] = Expected("on_leave")
        return
    if kind in ("forgot_in", "forgot_out"):
        ts = d.on_time_out() if kind == "forgot_in" else d.on_time_in()
        punch(ts)
        out.expected[key] = Expected("missing_punch", first_in=ts)
        return
    first = d.late_in() if kind in ("late", "late_and_early") else d.on_time_in()
    last = (d.early_out() if kind in ("early_leave", "late_and_early")
            else d.overtime_out() if kind == "overtime" else d.on_time_out())
    punch(first)
    if kind == "corrected":
        out.corrections.append((member.number, last))  # counted once HR approves it
    else:
        punch(last)
    if kind == "double_tap":  # again within the minute, at the same clock: counts once
        again = rng.choice((first, last))
        clock = next(p.clock for p in reversed(out.punches)
                     if p.ts == again and p.card_no == member.card_no)
        out.punches.append(Punch(again + rng.randint(*DOUBLE_TAP_S), member.card_no, clock))
    out.expected[key] = _work_day(shift, span, first, last)


def _plan_rest_day(out: Timetable, member: StaffSpec, day: dt.date, zone: ZoneInfo,
                   clocks: int, rng: random.Random) -> None:
    key = (member.number, day)
    if rng.random() >= REST_DAY_WORK:
        out.expected[key] = Expected("off")
        return
    out.behaviours["rest_day_work"] += 1
    # 11:00-15:00: clear of a night shift's punch window either side of the day.
    came = _at(day, 11 * 60, zone) + rng.randrange(0, 60 * MINUTE)
    left = came + rng.randint(60, 180) * MINUTE + rng.randrange(MINUTE)
    for ts in (came, left):
        out.punches.append(Punch(ts, member.card_no, rng.randrange(clocks)))
    worked = (left - came) // MINUTE
    out.expected[key] = Expected("off", came, left, worked_minutes=worked,
                                 overtime_minutes=worked)


def results_check(expected: dict[tuple[str, dt.date], Expected],
                  server: dict[tuple[str, dt.date], dict[str, int | str | None]]) -> list[str]:
    """Each expected day against the server's row; a row the fleet did not expect too."""
    problems = []
    for key, want in sorted(expected.items()):
        got = server.get(key)
        if got is None:
            problems.append(f"attendance {key[0]} {key[1]}: no result on the server, "
                            f"expected {want.status}")
            continue
        differs = {name: (value, got.get(name)) for name, value in want.as_dict().items()
                   if got.get(name) != value}
        if differs:
            problems.append(f"attendance {key[0]} {key[1]}: " + ", ".join(
                f"{name} expected {a} server {b}" for name, (a, b) in differs.items()))
    problems += [f"attendance {key[0]} {key[1]}: a result the roster does not explain"
                 for key in sorted(set(server) - set(expected))]
    return problems
