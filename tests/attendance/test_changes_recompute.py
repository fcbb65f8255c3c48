"""HR changes what a day is worth after its punches are in: a shift's hours, a later
roster, a leave cancelled, a holiday added or taken away. Each recomputes exactly the
days it touches once the task has run; the rest stay as they were."""

from __future__ import annotations

import datetime as dt

import pytest

from access.services import holiday_create, holiday_delete
from attendance import services
from attendance.models import Shift
from tests.attendance.clock import attendance_clock, local, punch, result, task_runs, upload
from tests.factories import StaffFactory, make_card, make_cardholder

pytestmark = pytest.mark.django_db

MON, TUE, WED = "2026-11-02", "2026-11-03", "2026-11-04"


@pytest.fixture
def worker(hr):
    """T001 on the day shift (08:30-17:30, 5 minutes' grace) on weekdays of November,
    with Monday to Wednesday punched: 08:40-17:31 each day (ten minutes late)."""
    services.shift_create(code="day", name="Day", start=dt.time(8, 30), end=dt.time(17, 30),
                          grace_minutes=5, by=hr)
    holder = make_cardholder(number="T001", kind="staff")
    card = make_card(cardholder=holder)
    services.roster_put(entries=[{"cardholder": "T001", "from": dt.date(2026, 11, 1),
                                  "to": dt.date(2026, 11, 30), "weekdays": [1, 2, 3, 4, 5],
                                  "shift": "day"}], by=hr)
    clock = attendance_clock()
    upload(clock, *[punch(clock, card, local(day, hm)) for day in (MON, TUE, WED)
                    for hm in ("08:40", "17:31")])
    task_runs()
    assert [result(holder, d).status for d in (MON, TUE, WED)] == ["late"] * 3
    return holder


def test_a_shift_starting_later_makes_yesterdays_late_arrivals_on_time(worker, hr) -> None:
    services.shift_update(shift=Shift.objects.get(code="day"), start=dt.time(9, 0),
                          end=dt.time(18, 0), by=hr)
    assert result(worker, MON).status == "late"  # not before the task has run
    task_runs()

    monday = result(worker, MON)
    assert (monday.status, monday.late_minutes, monday.early_minutes) == ("early_leave", 0, 29)


def test_a_later_roster_entry_overrides_the_earlier_one_on_its_days_only(worker, hr) -> None:
    services.roster_put(entries=[{"cardholder": "T001", "from": dt.date(2026, 11, 3),
                                  "to": dt.date(2026, 11, 3), "weekdays": [2],
                                  "shift": None}], by=hr)
    task_runs()

    tuesday = result(worker, TUE)
    assert (tuesday.status, tuesday.shift, tuesday.overtime_kind) == ("off", "", "rest_day")
    assert tuesday.overtime_minutes == 531  # 08:40-17:31 on a rest day, all overtime
    assert result(worker, MON).status == result(worker, WED).status == "late"


def test_a_cancelled_leave_gives_the_day_back_its_punches(hr) -> None:
    services.shift_create(code="day", name="Day", start=dt.time(8, 30), end=dt.time(17, 30),
                          by=hr)
    holder = make_cardholder(number="T002", kind="staff")
    make_card(cardholder=holder)
    services.roster_put(entries=[{"cardholder": "T002", "from": dt.date(2026, 11, 2),
                                  "to": dt.date(2026, 11, 6), "weekdays": [1, 2, 3, 4, 5],
                                  "shift": "day"}], by=hr)
    leave = services.leave_create(cardholder="T002", start=local(MON, "00:00"),
                                  end=local(TUE, "00:00"), kind="business", by=hr)
    task_runs()
    assert (result(holder, MON).status, result(holder, MON).leave_kind) == ("on_leave", "business")

    services.leave_cancel(leave=leave, by=hr)
    task_runs()

    monday = result(holder, MON)
    assert (monday.status, monday.leave_kind, monday.leave_minutes) == ("absent", "", 0)


def test_a_holiday_declared_for_a_past_day_makes_it_off_and_taking_it_back_restores_it(
        worker, hr) -> None:
    security = StaffFactory(role="security")
    holiday = holiday_create(date=dt.date(2026, 11, 3), name="Sports day", by=security)
    task_runs()

    tuesday = result(worker, TUE)
    assert (tuesday.status, tuesday.overtime_kind, tuesday.overtime_minutes) == (
        "off", "holiday", 531)
    assert result(worker, MON).status == "late"

    holiday_delete(holiday=holiday, by=security)
    task_runs()
    tuesday = result(worker, TUE)
    # Back to a work day: ten minutes late, and the minute past 17:30 is overtime again
    # (no threshold on this shift).
    assert (tuesday.status, tuesday.late_minutes, tuesday.overtime_minutes) == ("late", 10, 1)
