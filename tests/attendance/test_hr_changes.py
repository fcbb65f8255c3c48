"""An HR clerk's first fortnight of November 2026: T001 works the day shift (08:30-17:30,
five minutes' grace) on weekdays and rests at weekends; the workshop clock uploads the
punches over the signed terminal API, and the clerk moves a shift, re-rosters days,
cancels leave and finds a holiday in the calendar. After each change the task runs and
the day's row says what the rules now make of it; until it runs, the row stands."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from access.services import holiday_create
from attendance import services
from attendance.models import PendingDay, Shift
from core.models import Holiday
from tests.attendance.clock import attendance_clock, local, punch, result, task_runs, upload
from tests.factories import StaffFactory, make_card, make_cardholder

pytestmark = pytest.mark.django_db

MON, TUE, WED, THU, FRI = "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06"
NEXT_MON, NEXT_THU = "2026-11-09", "2026-11-12"
NOVEMBER = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))


def d(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


def judged(holder: Any, day: str) -> tuple[str, str, int, int, int]:
    """(status, shift, late, early, worked) of the holder's row for the day."""
    row = result(holder, day)
    return row.status, row.shift, row.late_minutes, row.early_minutes, row.worked_minutes


def roster(holder_number: str, first: str, last: str, weekdays: list[int],
           shift: str | None) -> dict[str, Any]:
    return {"cardholder": holder_number, "from": d(first), "to": d(last),
            "weekdays": weekdays, "shift": shift}


@pytest.fixture
def staff(hr, day_shift):
    """T001 with a card, on the day shift on weekdays of November, weekends off; every
    rostered day so far computed (absent: nothing punched yet)."""
    holder = make_cardholder(number="T001", kind="staff")
    card = make_card(cardholder=holder)
    services.roster_put(entries=[
        {"cardholder": "T001", "from": NOVEMBER[0], "to": NOVEMBER[1],
         "weekdays": [1, 2, 3, 4, 5], "shift": "day"},
        {"cardholder": "T001", "from": NOVEMBER[0], "to": NOVEMBER[1], "weekdays": [6, 7],
         "shift": None}], by=hr)
    task_runs()
    assert judged(holder, MON) == ("absent", "day", 0, 0, 0)
    return holder, card


@pytest.fixture
def clock():
    return attendance_clock()


def punched(clock, card, *moments: tuple[str, str]) -> None:
    """The clock uploads these (day, time) punches in one batch, and the task runs."""
    upload(clock, *[punch(clock, card, local(day, hm)) for day, hm in moments])
    task_runs()


# --- HR moves a shift ------------------------------------------------------------------


def test_hr_moves_the_start_later_and_a_late_day_already_computed_becomes_normal(
        staff, clock, hr) -> None:
    holder, card = staff
    punched(clock, card, (MON, "08:40"), (MON, "17:31"), (TUE, "08:28"), (TUE, "17:35"))
    # Monday: 08:40 is past 08:35, late 10; worked 08:40-17:30 = 530.
    assert judged(holder, MON) == ("late", "day", 10, 0, 530)
    assert judged(holder, TUE) == ("normal", "day", 0, 0, 540)

    services.shift_update(shift=Shift.objects.get(code="day"), start=dt.time(8, 45), by=hr)
    assert judged(holder, MON) == ("late", "day", 10, 0, 530)  # not before the task runs
    task_runs()

    # Now 08:45-17:30: 08:40 is early, not late; worked 525 (08:45-17:30), one minute
    # over (17:31). Tuesday alike, five minutes over (17:35).
    monday, tuesday = result(holder, MON), result(holder, TUE)
    assert judged(holder, MON) == ("normal", "day", 0, 0, 525)
    assert (monday.first_in, monday.last_out, monday.overtime_minutes) == (
        local(MON, "08:40"), local(MON, "17:31"), 1)
    assert judged(holder, TUE) == ("normal", "day", 0, 0, 525)
    assert tuesday.overtime_minutes == 5
    assert judged(holder, WED) == ("absent", "day", 0, 0, 0)  # nothing punched: still absent
    assert not PendingDay.objects.exists()


def test_hr_tightens_the_early_grace_and_a_leaver_at_the_grace_becomes_early(
        staff, clock, hr) -> None:
    holder, card = staff
    punched(clock, card, (MON, "08:30"), (MON, "17:25"))
    assert judged(holder, MON) == ("normal", "day", 0, 0, 535)  # 17:25 = end - grace

    services.shift_update(shift=Shift.objects.get(code="day"), early_grace_minutes=0, by=hr)
    task_runs()

    assert judged(holder, MON) == ("early_leave", "day", 0, 5, 535)


# --- HR re-rosters days ----------------------------------------------------------------


def test_a_later_roster_entry_overrides_an_earlier_one_on_the_days_it_covers(
        staff, clock, hr) -> None:
    holder, card = staff
    services.shift_create(code="late", name="Late", start=dt.time(10), end=dt.time(19),
                          by=hr)
    punched(clock, card, *[(day, hm) for day in (MON, TUE, WED, THU, FRI)
                           for hm in ("08:40", "17:31")])
    assert {judged(holder, day) for day in (MON, TUE, WED, THU, FRI)} == {
        ("late", "day", 10, 0, 530)}

    # Tuesday and Wednesday become rest days; Thursdays from the 5th are on the late
    # shift. The entries' periods hold other weekdays (Thursday the 5th, Mondays and
    # Fridays), which keep the day shift.
    services.roster_put(entries=[roster("T001", TUE, THU, [2, 3], None)], by=hr)
    services.roster_put(entries=[roster("T001", THU, "2026-11-30", [4], "late")], by=hr)
    task_runs()

    tuesday = result(holder, TUE)
    # A rest day: 08:40-17:31 = 8 h 51 = 531 minutes, all rest-day overtime.
    assert (tuesday.status, tuesday.shift, tuesday.late_minutes, tuesday.overtime_minutes,
            tuesday.overtime_kind) == ("off", "", 0, 531, "rest_day")
    assert result(holder, WED).status == "off"
    # Late shift 10:00-19:00: 08:40 is before the start (not late); 17:31 is 89 minutes
    # before 19:00; worked 10:00-17:31 = 451.
    assert judged(holder, THU) == ("early_leave", "late", 0, 89, 451)
    assert judged(holder, NEXT_THU) == ("absent", "late", 0, 0, 0)
    # Outside the later entries: the day shift as before.
    assert judged(holder, MON) == judged(holder, FRI) == ("late", "day", 10, 0, 530)
    assert judged(holder, NEXT_MON) == ("absent", "day", 0, 0, 0)

    # And a still later entry gives Tuesday back to the day shift.
    services.roster_put(entries=[roster("T001", TUE, TUE, [2], "day")], by=hr)
    task_runs()
    assert judged(holder, TUE) == ("late", "day", 10, 0, 530)
    assert result(holder, WED).status == "off"


# --- HR cancels leave ------------------------------------------------------------------


def test_hr_cancels_approved_leave_and_the_days_on_leave_become_absent(staff, clock,
                                                                        hr) -> None:
    holder, card = staff
    annual = services.leave_create(cardholder="T001", start=local(TUE, "00:00"),
                                   end=local(THU, "00:00"), kind="annual", by=hr)
    sick = services.leave_create(cardholder="T001", start=local(THU, "08:30"),
                                 end=local(THU, "12:30"), kind="sick", by=hr)
    punched(clock, card, (MON, "08:29"), (MON, "17:31"), (THU, "12:33"), (THU, "17:31"))
    monday_before = result(holder, MON)
    for day in (TUE, WED):
        row = result(holder, day)
        assert (row.status, row.leave_kind, row.leave_minutes) == ("on_leave", "annual", 540)
    thursday = result(holder, THU)
    # The morning on leave: 12:33 is within the grace of 12:30.
    assert (thursday.status, thursday.late_minutes, thursday.leave_minutes,
            thursday.leave_kind) == ("normal", 0, 240, "sick")

    services.leave_cancel(leave=annual, by=hr)
    assert result(holder, TUE).status == "on_leave"  # not before the task runs
    task_runs()

    for day in (TUE, WED):
        row = result(holder, day)
        assert (row.status, row.leave_kind, row.leave_minutes, row.first_in) == (
            "absent", "", 0, None)
    assert result(holder, THU).leave_kind == "sick"  # the other leave stands
    # Monday is among the days marked (the leave's period +- a day) but did not change:
    # its row was not written again.
    assert result(holder, MON).computed_at == monday_before.computed_at

    services.leave_cancel(leave=sick, by=hr)
    task_runs()
    thursday = result(holder, THU)
    # No leave: 12:33 against 08:30 is 4 h 03 late = 243; worked 12:33-17:30 = 297.
    assert (thursday.status, thursday.late_minutes, thursday.worked_minutes,
            thursday.leave_minutes, thursday.leave_kind) == ("late", 243, 297, 0, "")


# --- Early leave through the whole path ------------------------------------------------


def test_early_leave_and_late_and_early_from_the_clock_to_the_row(staff, clock) -> None:
    holder, card = staff
    # Uploaded out of order, Monday's leaving with a double tap.
    punched(clock, card, (TUE, "16:45"), (MON, "17:10"), (MON, "17:10:30"), (MON, "08:29"),
            (TUE, "08:50"), (WED, "08:30"), (WED, "17:25"), (THU, "08:30"),
            (THU, "17:24:59"))

    monday = result(holder, MON)
    # 17:10 is 20 before 17:30 (past the grace of 5); worked 08:30-17:10 = 520.
    assert judged(holder, MON) == ("early_leave", "day", 0, 20, 520)
    assert (monday.first_in, monday.last_out) == (local(MON, "08:29"), local(MON, "17:10"))
    # 08:50: late 20; 16:45: early 45; worked 08:50-16:45 = 475.
    assert judged(holder, TUE) == ("late_and_early", "day", 20, 45, 475)
    assert judged(holder, WED) == ("normal", "day", 0, 0, 535)  # 17:25 exactly: not early
    # A second before the grace: 5 m 1 s early, 5 whole minutes; worked 534 (floored).
    assert judged(holder, THU) == ("early_leave", "day", 0, 5, 534)


# --- Holidays --------------------------------------------------------------------------


def test_a_holiday_on_a_rostered_work_day_is_off_and_work_on_it_is_holiday_overtime(
        staff, clock) -> None:
    holder, card = staff
    holiday_create(date=d(WED), name="Sports day", by=StaffFactory(role="security"))
    assert Holiday.objects.get(date=d(WED)).name == "Sports day"
    task_runs()
    wednesday = result(holder, WED)
    assert (wednesday.status, wednesday.shift, wednesday.overtime_minutes,
            wednesday.overtime_kind) == ("off", "day", 0, "")

    punched(clock, card, (TUE, "08:29"), (TUE, "17:30"), (WED, "09:10"), (WED, "12:30"),
            (THU, "08:29"), (THU, "17:30"))

    wednesday = result(holder, WED)
    # 09:10 is not late on a holiday; 09:10-12:30 = 200 minutes, all holiday overtime.
    assert (wednesday.status, wednesday.late_minutes, wednesday.worked_minutes,
            wednesday.overtime_minutes, wednesday.overtime_kind) == (
        "off", 0, 200, 200, "holiday")
    assert judged(holder, TUE) == judged(holder, THU) == ("normal", "day", 0, 0, 540)


def test_a_holiday_already_in_the_calendar_makes_a_newly_rostered_day_off(hr,
                                                                          day_shift) -> None:
    Holiday.objects.create(date=d(WED), name="Founders' day")
    holder = make_cardholder(number="T002", kind="staff")
    make_card(cardholder=holder)
    services.roster_put(entries=[roster("T002", MON, FRI, [1, 2, 3, 4, 5], "day")], by=hr)
    task_runs()

    assert judged(holder, WED) == ("off", "day", 0, 0, 0)
    assert [result(holder, day).status for day in (MON, TUE, THU, FRI)] == ["absent"] * 4
