"""The rules of one day at their edges (attendance/rules.py, pure: no database): grace
to the second, early grace of its own, rounding before judging, flexible shifts, a
holiday on a work day, the overtime threshold, the break, part-day leave."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from attendance.rules import (
    Day,
    Direction,
    Flexible,
    OvertimeKind,
    Rounding,
    Shift,
    Status,
    assign,
    counted,
    day_result,
)

ZONE = ZoneInfo("Asia/Shanghai")
MON = dt.date(2026, 11, 2)


def at(hm: str, day: dt.date = MON, s: int = 0) -> dt.datetime:
    h, m = (int(x) for x in hm.split(":"))
    return dt.datetime.combine(day, dt.time(h, m, s), ZONE)


DAY_SHIFT = Shift(code="day", start=dt.time(9), end=dt.time(18), grace_minutes=5)


def result(shift: Shift, *punches: dt.datetime, holiday: bool = False,
           leave: tuple[tuple[dt.datetime, dt.datetime], ...] = ()):
    return day_result(Day(date=MON, shift=shift, holiday=holiday, leave=leave), punches, ZONE)


@pytest.mark.parametrize(("first", "status", "late"), [
    (at("09:05"), Status.NORMAL, 0),  # exactly start + grace: not late
    (at("09:05", s=1), Status.LATE, 5),  # a second past: late, counted from the start
    (at("09:06"), Status.LATE, 6),
    (at("08:10"), Status.NORMAL, 0),
])
def test_late_is_judged_to_the_second_and_counted_from_the_start(first, status, late):
    r = result(DAY_SHIFT, first, at("18:00"))
    assert (r.status, r.late_minutes) == (status, late)


def test_early_leave_has_its_own_grace_when_set():
    shift = Shift(code="d", start=dt.time(9), end=dt.time(18), grace_minutes=5,
                  early_grace_minutes=0)
    assert result(shift, at("09:00"), at("17:58")).early_minutes == 2
    assert result(DAY_SHIFT, at("09:00"), at("17:58")).status == Status.NORMAL  # 5 min grace
    r = result(DAY_SHIFT, at("09:20"), at("17:30"))
    assert (r.status, r.late_minutes, r.early_minutes) == (Status.LATE_AND_EARLY, 20, 30)


@pytest.mark.parametrize(("direction", "punch", "rounded"), [
    (Direction.DOWN, at("09:07", s=59), at("09:05")),
    (Direction.UP, at("09:05", s=1), at("09:10")),
    (Direction.UP, at("09:05"), at("09:05")),  # already on the interval
    (Direction.NEAREST, at("09:07", s=29), at("09:05")),
    (Direction.NEAREST, at("09:07", s=30), at("09:10")),  # half an interval goes up
])
def test_rounding_moves_a_punch_on_the_local_clock(direction, punch, rounded):
    assert Rounding(5, direction).apply(punch) == rounded


def test_rounding_comes_before_late_is_judged():
    # 09:06:40 rounded down to 09:05: within the grace, so not late.
    down = Shift(code="d", start=dt.time(9), end=dt.time(18), grace_minutes=5,
                 round_in=Rounding(5, Direction.DOWN))
    assert result(down, at("09:06", s=40), at("18:00")).status == Status.NORMAL
    # 09:01 rounded up to 09:05 with no grace: late 5.
    up = Shift(code="u", start=dt.time(9), end=dt.time(18), round_in=Rounding(5, Direction.UP),
               round_out=Rounding(15, Direction.DOWN))
    r = result(up, at("09:01"), at("18:14"))
    assert (r.status, r.late_minutes, r.first_in, r.last_out) == (
        Status.LATE, 5, at("09:05"), at("18:00"))


def test_a_flexible_shift_judges_its_core_and_the_minutes_owed():
    flex = Shift(code="f", start=dt.time(7), end=dt.time(20),
                 flexible=Flexible(core_from=dt.time(10), core_to=dt.time(16),
                                   required_minutes=480))
    # 07:30-16:30: inside the core, nine hours there: normal.
    assert result(flex, at("07:30"), at("16:30")).status == Status.NORMAL
    # 10:20 in: late against the core by 20 minutes.
    r = result(flex, at("10:20"), at("19:00"))
    assert (r.status, r.late_minutes) == (Status.LATE, 20)
    # 09:00-16:00 covers the core but only 420 of 480 minutes: 60 owed, as early leave.
    r = result(flex, at("09:00"), at("16:00"))
    assert (r.status, r.early_minutes, r.worked_minutes) == (Status.EARLY_LEAVE, 60, 420)


def test_a_holiday_on_a_work_day_is_off_and_work_on_it_is_holiday_overtime():
    assert result(DAY_SHIFT, holiday=True).status == Status.OFF
    r = result(DAY_SHIFT, at("10:00"), at("12:30"), holiday=True)
    assert (r.status, r.overtime_minutes, r.overtime_kind) == (
        Status.OFF, 150, OvertimeKind.HOLIDAY)


@pytest.mark.parametrize(("out", "overtime"), [
    (at("18:29", s=59), 0),  # 29 minutes past the end: under the threshold
    (at("18:30"), 30),  # at the threshold: every minute counts
    (at("19:45"), 105),
])
def test_overtime_counts_whole_once_it_reaches_the_threshold(out, overtime):
    shift = Shift(code="o", start=dt.time(9), end=dt.time(18), overtime_after_minutes=30)
    r = result(shift, at("09:00"), out)
    assert (r.overtime_minutes, r.overtime_kind) == (
        overtime, OvertimeKind.WORKDAY if overtime else OvertimeKind.NONE)


def test_the_break_is_taken_from_the_middle_of_the_shift_for_the_part_the_span_covers():
    shift = Shift(code="b", start=dt.time(9), end=dt.time(18), break_minutes=60)
    # The break is 13:00-14:00 (centred in 09:00-18:00).
    assert result(shift, at("09:00"), at("18:00")).worked_minutes == 480
    assert result(shift, at("09:00"), at("13:30")).worked_minutes == 240  # half the break
    assert result(shift, at("14:00"), at("18:00")).worked_minutes == 240  # none of it
    assert result(shift, at("08:00"), at("19:00")).worked_minutes == 480  # only the shift


def test_part_day_leave_moves_the_start_or_the_end_and_a_whole_day_is_on_leave():
    morning = ((at("09:00"), at("12:00")),)
    r = result(DAY_SHIFT, at("12:02"), at("18:00"), leave=morning)
    assert (r.status, r.late_minutes, r.leave_minutes) == (Status.NORMAL, 0, 180)
    afternoon = ((at("15:00"), at("18:00")),)
    r = result(DAY_SHIFT, at("09:00"), at("14:30"), leave=afternoon)
    assert (r.status, r.early_minutes) == (Status.EARLY_LEAVE, 30)
    whole = ((at("00:00"), at("23:59")),)
    assert result(DAY_SHIFT, leave=whole).status == Status.ON_LEAVE


def test_one_punch_is_missing_and_none_is_absent():
    assert result(DAY_SHIFT, at("09:00")).status == Status.MISSING_PUNCH
    assert result(DAY_SHIFT).status == Status.ABSENT


def test_a_double_tap_within_the_minute_counts_once_and_at_the_minute_twice():
    assert counted([at("09:00"), at("09:00", s=59)]) == [at("09:00")]
    assert counted([at("09:00"), at("09:01")]) == [at("09:00"), at("09:01")]
    # Out of order too: the earliest of a pair is the one kept.
    assert counted([at("09:00", s=30), at("09:00")]) == [at("09:00")]


def test_assign_gives_a_night_punch_to_the_night_before_and_leaves_strays_alone():
    night = Shift(code="n", start=dt.time(22), end=dt.time(6))
    tue = MON + dt.timedelta(days=1)
    days = [Day(date=MON, shift=night), Day(date=tue, shift=None)]
    late_morning = at("07:58", tue)
    rest_afternoon = at("15:00", tue)
    stray = at("12:00")  # Monday noon: outside Monday's window (18:00-10:00) and no rest day
    got = assign(days, [late_morning, rest_afternoon, stray], ZONE)
    assert got == {MON: [late_morning], tue: [rest_afternoon]}
