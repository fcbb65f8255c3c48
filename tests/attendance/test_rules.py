"""attendance/rules.py by hand: one day's punches against a shift, with every number
worked out on paper (pure functions: no database, no clock).

The day shift below is 08:30-17:30 (540 minutes) with five minutes' grace, in
Asia/Shanghai; Monday 2 November 2026 is the day unless a case says otherwise."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from typing import Any

import pytest

from attendance.rules import (
    Day,
    Direction,
    Flexible,
    OvertimeKind,
    Result,
    Rounding,
    Shift,
    Status,
    assign,
    counted,
    day_result,
)

zone = zoneinfo.ZoneInfo("Asia/Shanghai")
MON = dt.date(2026, 11, 2)
TUE = dt.date(2026, 11, 3)
WED = dt.date(2026, 11, 4)

DOWN, UP, NEAREST = Direction.DOWN, Direction.UP, Direction.NEAREST


def at(hms: str, day: dt.date = MON) -> dt.datetime:
    """A moment on the local clock: at("08:33:20"), at("07:58", TUE)."""
    return dt.datetime.combine(day, dt.time.fromisoformat(hms), zone)


DAY_SHIFT = Shift(code="day", start=dt.time(8, 30), end=dt.time(17, 30), grace_minutes=5)


def shift(**kw: Any) -> Shift:
    """The day shift changed by `kw`."""
    return dataclasses.replace(DAY_SHIFT, **kw)


def judge(rule: Shift | None, *punches: dt.datetime, holiday: bool = False,
          leave: tuple[tuple[dt.datetime, dt.datetime], ...] = ()) -> Result:
    return day_result(Day(date=MON, shift=rule, holiday=holiday, leave=leave), punches, zone)


# --- Every status ----------------------------------------------------------------------


@pytest.mark.parametrize(("punches", "expected"), [
    # 08:28-17:35: worked is clipped to the shift (540); 5 minutes past the end are
    # overtime (no threshold).
    (("08:28", "17:35"), (Status.NORMAL, 0, 0, 540, 5)),
    # 08:42 is past 08:35: late 12 from 08:30; worked 08:42-17:30 = 528; 1 minute over.
    (("08:42", "17:31"), (Status.LATE, 12, 0, 528, 1)),
    # 17:10 is before 17:25: early 20 from 17:30; worked 08:30-17:10 = 520.
    (("08:29", "17:10"), (Status.EARLY_LEAVE, 0, 20, 520, 0)),
    # late 20, early 45 (17:30 - 16:45); worked 08:50-16:45 = 7 h 55 = 475.
    (("08:50", "16:45"), (Status.LATE_AND_EARLY, 20, 45, 475, 0)),
])
def test_two_punches_give_normal_late_early_leave_or_both(punches, expected) -> None:
    r = judge(DAY_SHIFT, *(at(p) for p in punches))
    assert (r.status, r.late_minutes, r.early_minutes, r.worked_minutes,
            r.overtime_minutes) == expected
    assert (r.first_in, r.last_out, r.shift) == (at(punches[0]), at(punches[1]), "day")


def test_one_punch_is_missing_punch_and_none_is_absent() -> None:
    one = judge(DAY_SHIFT, at("08:29"))
    assert (one.status, one.first_in, one.last_out, one.worked_minutes) == (
        Status.MISSING_PUNCH, at("08:29"), None, 0)
    none = judge(DAY_SHIFT)
    assert (none.status, none.first_in, none.shift) == (Status.ABSENT, None, "day")


def test_a_shift_wholly_on_leave_is_on_leave_whatever_was_punched() -> None:
    whole = ((at("08:00"), at("18:00")),)
    r = judge(DAY_SHIFT, at("08:29"), at("17:31"), leave=whole)
    # leave minutes are those of the shift only: 08:30-17:30 = 540.
    assert (r.status, r.leave_minutes, r.worked_minutes, r.first_in) == (
        Status.ON_LEAVE, 540, 0, None)


def test_a_rest_day_is_off_and_work_on_it_is_rest_day_overtime() -> None:
    idle = judge(None)
    assert (idle.status, idle.shift, idle.overtime_minutes, idle.overtime_kind) == (
        Status.OFF, None, 0, OvertimeKind.NONE)
    # 10:00-12:30 = 150 minutes, all overtime; no shift to be late for.
    worked = judge(None, at("10:00"), at("12:30"))
    assert (worked.status, worked.worked_minutes, worked.overtime_minutes,
            worked.overtime_kind, worked.late_minutes) == (
        Status.OFF, 150, 150, OvertimeKind.REST_DAY, 0)


# --- Grace -----------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "status", "late"), [
    ("08:34:59", Status.NORMAL, 0),
    ("08:35:00", Status.NORMAL, 0),  # exactly start + grace: not late (`>` not `>=`)
    ("08:35:01", Status.LATE, 5),  # a second past: late, 5 m 1 s from 08:30, whole minutes
    ("08:36:00", Status.LATE, 6),  # a minute past the grace: 6 counted from the start
    ("08:36:59", Status.LATE, 6),
])
def test_late_is_judged_to_the_second_and_counted_from_the_start(first, status, late) -> None:
    r = judge(DAY_SHIFT, at(first), at("17:30"))
    assert (r.status, r.late_minutes, r.early_minutes) == (status, late, 0)


def test_with_no_grace_a_minute_late_is_late() -> None:
    r = judge(shift(grace_minutes=0), at("08:31"), at("17:30"))
    assert (r.status, r.late_minutes) == (Status.LATE, 1)


@pytest.mark.parametrize(("early_grace", "last", "status", "early"), [
    (15, "17:15:00", Status.NORMAL, 0),  # exactly end - 15: not early
    (15, "17:14:59", Status.EARLY_LEAVE, 15),  # 15 m 1 s before 17:30
    (15, "17:20:00", Status.NORMAL, 0),  # 10 early: forgiven by 15 (5 would not)
    (0, "17:29:00", Status.EARLY_LEAVE, 1),  # no early grace: a minute is early
    (0, "17:30:00", Status.NORMAL, 0),
    (None, "17:25:00", Status.NORMAL, 0),  # unset: the late grace, 5
    (None, "17:24:00", Status.EARLY_LEAVE, 6),
])
def test_early_leave_is_judged_with_its_own_grace(early_grace, last, status, early) -> None:
    r = judge(shift(early_grace_minutes=early_grace), at("08:30"), at(last))
    assert (r.status, r.early_minutes, r.late_minutes) == (status, early, 0)


def test_the_early_grace_does_not_widen_the_late_grace() -> None:
    # early grace 15, late grace 5: 08:40 is late by 10 even though 10 < 15.
    r = judge(shift(early_grace_minutes=15), at("08:40"), at("17:20"))
    assert (r.status, r.late_minutes, r.early_minutes) == (Status.LATE, 10, 0)


# --- Rounding --------------------------------------------------------------------------


@pytest.mark.parametrize(("direction", "punch", "rounded"), [
    (DOWN, "08:33:20", "08:30"),
    (UP, "08:33:20", "08:35"),
    (NEAREST, "08:33:20", "08:35"),  # 200 s past 08:30, more than half of 300 s
    (NEAREST, "08:32:29", "08:30"),  # 149 s: under half
    (NEAREST, "08:32:30", "08:35"),  # 150 s, exactly half: up
    (DOWN, "08:35:00", "08:35"),  # already on the interval: unchanged whatever the way
    (UP, "08:35:00", "08:35"),
    (NEAREST, "08:35:00", "08:35"),
    (UP, "08:30:01", "08:35"),
    (DOWN, "17:29:59", "17:25"),
])
def test_rounding_to_five_minutes_on_the_local_clock(direction, punch, rounded) -> None:
    assert Rounding(5, direction).apply(at(punch)) == at(rounded)


def test_rounding_drops_fractions_of_a_second_first() -> None:
    finer = at("08:35").replace(microsecond=900_000)
    assert Rounding(5, UP).apply(finer) == at("08:35")


@pytest.mark.parametrize(("grace", "rounding", "first", "first_in", "status", "late"), [
    # 08:33:20 up to 08:35: 5 past 08:30 with no grace: late 5.
    (0, Rounding(5, UP), "08:33:20", "08:35", Status.LATE, 5),
    # down to 08:30: on time, though the punch itself was 3 m 20 s late.
    (0, Rounding(5, DOWN), "08:33:20", "08:30", Status.NORMAL, 0),
    (0, Rounding(5, NEAREST), "08:32:29", "08:30", Status.NORMAL, 0),
    (0, Rounding(5, NEAREST), "08:32:30", "08:35", Status.LATE, 5),
    # 08:30:01 up to 08:35, exactly start + grace: not late.
    (5, Rounding(5, UP), "08:30:01", "08:35", Status.NORMAL, 0),
    # 08:37:40 down to 08:35: inside the grace; unrounded it would be late 7.
    (5, Rounding(5, DOWN), "08:37:40", "08:35", Status.NORMAL, 0),
    (5, None, "08:37:40", "08:37:40", Status.LATE, 7),
])
def test_the_in_punch_is_rounded_before_late_is_judged(grace, rounding, first, first_in, status,
                                                      late) -> None:
    r = judge(shift(grace_minutes=grace, round_in=rounding), at(first), at("17:30"))
    assert (r.status, r.late_minutes, r.first_in) == (status, late, at(first_in))


@pytest.mark.parametrize(("rounding", "last", "last_out", "status", "early"), [
    # 17:29:59 down to 17:25: early 5 with no grace; unrounded, 1 s early is 0 minutes.
    (Rounding(5, DOWN), "17:29:59", "17:25", Status.EARLY_LEAVE, 5),
    (None, "17:29:59", "17:29:59", Status.NORMAL, 0),
    (Rounding(5, UP), "17:26:00", "17:30", Status.NORMAL, 0),
    (Rounding(5, NEAREST), "17:27:30", "17:30", Status.NORMAL, 0),  # exactly half: up
    (Rounding(5, NEAREST), "17:27:29", "17:25", Status.EARLY_LEAVE, 5),
])
def test_the_out_punch_is_rounded_before_early_leave_is_judged(rounding, last, last_out, status,
                                                              early) -> None:
    r = judge(shift(grace_minutes=0, round_out=rounding), at("08:30"), at(last))
    assert (r.status, r.early_minutes, r.last_out) == (status, early, at(last_out))


def test_rounding_out_decides_overtime_and_worked_minutes_too() -> None:
    # 18:14 down to 18:00 (15-minute steps): 30 minutes past 17:30; worked stays 540.
    r = judge(shift(round_out=Rounding(15, DOWN)), at("08:30"), at("18:14"))
    assert (r.last_out, r.overtime_minutes, r.overtime_kind, r.worked_minutes) == (
        at("18:00"), 30, OvertimeKind.WORKDAY, 540)


# --- Flexible shifts -------------------------------------------------------------------

# Anywhere from 07:00 to 20:00, present 10:00-16:00, eight hours owed; no grace.
FLEX = Shift(code="flex", start=dt.time(7), end=dt.time(20),
             flexible=Flexible(core_from=dt.time(10), core_to=dt.time(16), required_minutes=480))


@pytest.mark.parametrize(("punches", "expected"), [
    # 08:00-16:30 = 510 minutes, the core covered: normal.
    (("08:00", "16:30"), (Status.NORMAL, 0, 0, 510)),
    # 09:30 is 2 h 30 after the shift's start but before the core's: not late.
    (("09:30", "17:30"), (Status.NORMAL, 0, 0, 480)),
    # 10:20 in: late 20 against the core (not 200 against 07:00); 10:20-18:30 = 490.
    (("10:20", "18:30"), (Status.LATE, 20, 0, 490)),
    # 07:30-15:50: 10 before the core ends; 500 worked, nothing short: early 10.
    (("07:30", "15:50"), (Status.EARLY_LEAVE, 0, 10, 500)),
    # 09:00-16:00 covers the core but is 420 of 480: 60 short, as early minutes.
    (("09:00", "16:00"), (Status.EARLY_LEAVE, 0, 60, 420)),
    # 09:00-15:40: 20 early against the core, but 80 short (480 - 400): the larger.
    (("09:00", "15:40"), (Status.EARLY_LEAVE, 0, 80, 400)),
    # 10:30-16:00: late 30; 330 worked, 150 short.
    (("10:30", "16:00"), (Status.LATE_AND_EARLY, 30, 150, 330)),
])
def test_a_flexible_shift_judges_the_core_and_the_minutes_owed(punches, expected) -> None:
    r = judge(FLEX, *(at(p) for p in punches))
    assert (r.status, r.late_minutes, r.early_minutes, r.worked_minutes) == expected


def test_a_flexible_shifts_grace_applies_to_the_core() -> None:
    graced = Shift(code="flex", start=dt.time(7), end=dt.time(20), grace_minutes=5,
                   flexible=Flexible(dt.time(10), dt.time(16), 480))
    # 10:05 is core start + grace: not late; 10:05-18:05 = 480, nothing short.
    assert judge(graced, at("10:05"), at("18:05")).status == Status.NORMAL
    r = judge(graced, at("10:06"), at("18:06"))
    assert (r.status, r.late_minutes) == (Status.LATE, 6)


def test_leave_counts_towards_a_flexible_shifts_minutes_owed() -> None:
    # Morning leave 07:00-11:00 (240 minutes, covering the core's start: it moves to
    # 11:00). 11:00-15:00 is 240 worked: 240 + 240 = 480 owed, none short; but 15:00 is
    # an hour before the core's end: early 60.
    r = judge(FLEX, at("11:00"), at("15:00"), leave=((at("07:00"), at("11:00")),))
    assert (r.status, r.late_minutes, r.early_minutes, r.leave_minutes) == (
        Status.EARLY_LEAVE, 0, 60, 240)
    r = judge(FLEX, at("11:00"), at("16:00"), leave=((at("07:00"), at("11:00")),))
    assert (r.status, r.early_minutes, r.worked_minutes) == (Status.NORMAL, 0, 300)


# --- Holidays --------------------------------------------------------------------------


def test_a_holiday_on_a_work_day_is_off_and_work_on_it_is_holiday_overtime() -> None:
    idle = judge(DAY_SHIFT, holiday=True)
    assert (idle.status, idle.shift, idle.overtime_minutes, idle.overtime_kind) == (
        Status.OFF, "day", 0, OvertimeKind.NONE)
    # 09:00-12:30 = 210, every minute overtime; 09:00 is not "late" on a holiday.
    r = judge(DAY_SHIFT, at("09:00"), at("12:30"), holiday=True)
    assert (r.status, r.late_minutes, r.early_minutes, r.worked_minutes,
            r.overtime_minutes, r.overtime_kind) == (
        Status.OFF, 0, 0, 210, 210, OvertimeKind.HOLIDAY)
    alone = judge(DAY_SHIFT, at("09:00"), holiday=True)  # one punch: off, not missing
    assert (alone.status, alone.first_in, alone.overtime_minutes) == (Status.OFF, at("09:00"), 0)


# --- Overtime --------------------------------------------------------------------------


@pytest.mark.parametrize(("threshold", "last", "overtime"), [
    (30, "17:59:59", 0),  # 29 m 59 s past 17:30: 29 whole minutes, under 30
    (30, "18:00:00", 30),  # at the threshold: all 30 count
    (30, "18:45:00", 75),  # beyond: all 75, not 75 - 30
    (0, "17:30:59", 0),  # under a whole minute past: none
    (0, "17:31:00", 1),
])
def test_overtime_counts_whole_once_it_reaches_the_threshold(threshold, last, overtime) -> None:
    r = judge(shift(overtime_after_minutes=threshold), at("08:30"), at(last))
    assert (r.status, r.overtime_minutes, r.overtime_kind) == (
        Status.NORMAL, overtime, OvertimeKind.WORKDAY if overtime else OvertimeKind.NONE)


# --- The break -------------------------------------------------------------------------


@pytest.mark.parametrize(("rest", "first", "last", "worked"), [
    # 60 minutes centred in 08:30-17:30 (middle 13:00): 12:30-13:30.
    (60, "08:30", "17:30", 480),  # 540 - 60
    (60, "08:00", "18:00", 480),  # punches outside the shift count only inside it
    (60, "08:30", "12:30", 240),  # ends where the break starts: none of it
    (60, "08:30", "12:45", 240),  # 255 on the clock, 15 of them break
    (60, "13:00", "17:30", 240),  # 270, the last 30 of the break
    (60, "12:40", "13:20", 0),  # wholly inside the break
    # 45 minutes: 12:37:30-13:22:30. 08:30-13:00 is 270 less 22.5: 247.5, floored.
    (45, "08:30", "13:00", 247),
    (45, "08:30", "17:30", 495),
])
def test_the_break_is_centred_and_taken_for_the_part_the_span_covers(rest, first, last,
                                                                     worked) -> None:
    assert judge(shift(break_minutes=rest), at(first), at(last)).worked_minutes == worked


# --- Part-day leave --------------------------------------------------------------------


@pytest.mark.parametrize(("leave", "punches", "expected"), [
    # Leave 08:30-12:30 moves the start to 12:30: 12:33 is within the grace.
    ((("08:30", "12:30"),), ("12:33", "17:31"), (Status.NORMAL, 0, 0, 240)),
    # ... and 12:40 is late by 10, counted from 12:30 (not 250 from 08:30).
    ((("08:30", "12:30"),), ("12:40", "17:30"), (Status.LATE, 10, 0, 240)),
    # Leave starting before the shift counts only its part inside it: 08:30-12:30.
    ((("07:00", "12:30"),), ("12:33", "17:31"), (Status.NORMAL, 0, 0, 240)),
    # Two pieces back to back move the start twice: 08:30-10:00, 10:00-12:30.
    ((("08:30", "10:00"), ("10:00", "12:30")), ("12:33", "17:31"), (Status.NORMAL, 0, 0, 240)),
    # Leave 13:30-17:30 moves the end to 13:30: 13:31 out is not early ...
    ((("13:30", "17:30"),), ("08:29", "13:31"), (Status.NORMAL, 0, 0, 240)),
    # ... and 13:20 is early by 10, from 13:30.
    ((("13:30", "17:30"),), ("08:29", "13:20"), (Status.EARLY_LEAVE, 0, 10, 240)),
    # Leave in the middle moves neither end: a full day's punches are normal.
    ((("12:00", "14:00"),), ("08:29", "17:31"), (Status.NORMAL, 0, 0, 120)),
])
def test_part_day_leave_moves_the_start_or_the_end(leave, punches, expected) -> None:
    spans = tuple((at(a), at(b)) for a, b in leave)
    r = judge(DAY_SHIFT, *(at(p) for p in punches), leave=spans)
    assert (r.status, r.late_minutes, r.early_minutes, r.leave_minutes) == expected


def test_leave_pieces_covering_the_whole_shift_are_on_leave() -> None:
    pieces = ((at("08:30"), at("12:30")), (at("12:30"), at("17:30")))
    r = judge(DAY_SHIFT, leave=pieces)
    assert (r.status, r.leave_minutes) == (Status.ON_LEAVE, 540)


# --- Which day a punch belongs to ------------------------------------------------------

NIGHT = Shift(code="night", start=dt.time(22), end=dt.time(6))  # window 18:00 to 10:00


def test_a_night_shifts_morning_punch_belongs_to_the_night_before() -> None:
    days = [Day(MON, NIGHT), Day(TUE, NIGHT)]
    punches = [at("21:52"), at("07:58", TUE), at("21:55", TUE), at("06:10", WED)]
    assert assign(days, punches, zone) == {
        MON: [at("21:52"), at("07:58", TUE)],
        TUE: [at("21:55", TUE), at("06:10", WED)],
    }


def test_a_punch_in_two_windows_goes_to_the_nearer_shift() -> None:
    # Monday night's window runs to Tuesday 10:00, Tuesday's day shift's from 04:30.
    # 06:30 is 30 minutes after 06:00 and 120 before 08:30: Monday. 07:58 is 118 after
    # 06:00 and 32 before 08:30: Tuesday.
    days = [Day(MON, NIGHT), Day(TUE, DAY_SHIFT)]
    got = assign(days, [at("06:30", TUE), at("07:58", TUE)], zone)
    assert got == {MON: [at("06:30", TUE)], TUE: [at("07:58", TUE)]}


def test_a_punch_in_no_window_belongs_to_no_day() -> None:
    # The day shift's window is 04:30-21:30 (4 hours either side).
    days = [Day(MON, DAY_SHIFT), Day(TUE, DAY_SHIFT)]
    punches = [at("04:29:59"), at("04:30"), at("21:29:59"), at("21:30"), at("23:00"),
               at("02:00", TUE)]
    assert assign(days, punches, zone) == {MON: [at("04:30"), at("21:29:59")], TUE: []}


def test_a_rest_day_takes_its_calendar_day_only_where_no_work_window_does() -> None:
    days = [Day(MON, NIGHT), Day(TUE, None)]
    # 07:58 Tuesday is on the rest day's calendar, but in Monday night's window: Monday.
    # 10:00 is past that window (it ends at 10:00, exclusive): the rest day's. Wednesday
    # 00:30 is on no rostered day's calendar: nobody's.
    punches = [at("07:58", TUE), at("10:00", TUE), at("23:59:59", TUE), at("00:30", WED)]
    assert assign(days, punches, zone) == {
        MON: [at("07:58", TUE)], TUE: [at("10:00", TUE), at("23:59:59", TUE)]}


def test_a_holiday_claims_its_calendar_day_as_a_rest_day_does() -> None:
    # Tuesday a holiday: its shift's window (04:30-21:30) no longer counts, its calendar
    # day does (23:00 is outside the window, inside the day).
    days = [Day(MON, DAY_SHIFT), Day(TUE, DAY_SHIFT, holiday=True)]
    got = assign(days, [at("20:00"), at("23:00", TUE)], zone)
    assert got == {MON: [at("20:00")], TUE: [at("23:00", TUE)]}


# --- Double taps -----------------------------------------------------------------------


@pytest.mark.parametrize(("punches", "kept"), [
    (["08:00:00", "08:00:59"], ["08:00:00"]),  # 59 s apart: once
    (["08:00:00", "08:01:00"], ["08:00:00", "08:01:00"]),  # 60 s exactly: twice
    (["08:00:59", "08:00:00"], ["08:00:00"]),  # any order: the earlier is kept
    # 50 s after the first is dropped; 100 s after the first (kept) counts, though it is
    # only 50 s after the dropped one.
    (["08:00:00", "08:00:50", "08:01:40"], ["08:00:00", "08:01:40"]),
    (["08:00:00", "08:00:20", "08:00:40", "08:01:00"], ["08:00:00", "08:01:00"]),
])
def test_double_taps_within_sixty_seconds_count_once(punches, kept) -> None:
    assert counted(at(p) for p in punches) == [at(k) for k in kept]


def test_a_double_tap_alone_is_still_one_missing_punch() -> None:
    r = judge(DAY_SHIFT, at("08:29:00"), at("08:29:40"))
    assert (r.status, r.first_in) == (Status.MISSING_PUNCH, at("08:29"))
