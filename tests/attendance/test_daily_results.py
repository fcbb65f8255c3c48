"""An HR office's month, punch by punch: clocks upload (late, out of order, twice), the
task computes exactly the days touched, and each rostered day has its row."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.services import card_report_loss
from attendance import compute, services
from attendance.models import AttendanceException, DayResult, PendingDay
from tests.attendance.clock import attendance_clock, local, punch, result, task_runs, upload
from tests.factories import StaffFactory, make_card, make_cardholder

pytestmark = pytest.mark.django_db

MON, TUE, WED = "2026-11-02", "2026-11-03", "2026-11-04"


@pytest.fixture
def staff(hr, day_shift):
    holder = make_cardholder(number="T001", kind="staff")
    card = make_card(cardholder=holder)
    services.roster_put(entries=[{"cardholder": "T001", "from": dt.date(2026, 11, 1),
                                  "to": dt.date(2026, 11, 30), "weekdays": [1, 2, 3, 4, 5],
                                  "shift": "day"},
                                 {"cardholder": "T001", "from": dt.date(2026, 11, 1),
                                  "to": dt.date(2026, 11, 30), "weekdays": [6, 7],
                                  "shift": None}], by=hr)
    task_runs()
    return holder, card


def test_a_clerk_on_time_is_normal_and_a_late_one_is_late(staff) -> None:
    holder, card = staff
    clock = attendance_clock()
    upload(clock, punch(clock, card, local(MON, "08:28")), punch(clock, card, local(MON, "17:35")),
           punch(clock, card, local(TUE, "08:42")), punch(clock, card, local(TUE, "17:31")))
    task_runs()

    monday, tuesday = result(holder, MON), result(holder, TUE)
    assert (monday.status, monday.late_minutes, monday.worked_minutes) == ("normal", 0, 540)
    assert monday.first_in == local(MON, "08:28") and monday.last_out == local(MON, "17:35")
    assert (tuesday.status, tuesday.late_minutes) == ("late", 12)


def test_a_double_tap_counts_once_and_one_punch_alone_is_missing(staff) -> None:
    holder, card = staff
    clock = attendance_clock()
    upload(clock, punch(clock, card, local(MON, "08:20")),
           punch(clock, card, local(MON, "08:20:40")))
    task_runs()

    assert result(holder, MON).status == "missing_punch"


def test_every_rostered_day_gets_its_row_and_a_day_without_punches_is_absent(staff) -> None:
    holder, _card = staff
    services.days_due_mark(day=dt.date.fromisoformat(WED))
    task_runs()

    assert result(holder, WED).status == "absent"
    assert result(holder, TUE).status == "absent"


def test_the_weekend_is_off_and_work_on_it_is_rest_day_overtime(staff) -> None:
    holder, card = staff
    clock = attendance_clock()
    upload(clock, punch(clock, card, local("2026-11-07", "10:00")),
           punch(clock, card, local("2026-11-07", "12:30")))
    task_runs()

    saturday = result(holder, "2026-11-07")
    assert (saturday.status, saturday.overtime_minutes, saturday.overtime_kind) == \
        ("off", 150, "rest_day")


def test_punches_uploaded_days_late_and_out_of_order_give_the_same_day(staff) -> None:
    holder, card = staff
    clock = attendance_clock()
    upload(clock, punch(clock, card, local(MON, "17:40")))
    task_runs()
    assert result(holder, MON).status == "missing_punch"

    upload(clock, punch(clock, card, local(MON, "08:31")))
    task_runs()
    assert result(holder, MON).status == "normal"
    assert not PendingDay.objects.exists()
    assert task_runs() == 0  # nothing left: running again changes nothing


def test_a_punch_by_a_lost_card_counts_for_its_holder_and_is_flagged(staff) -> None:
    holder, card = staff
    clock = attendance_clock()
    card_report_loss(card=card, by=StaffFactory(role="card_office"))
    upload(clock, punch(clock, card, local(MON, "08:25")), punch(clock, card, local(MON, "17:30")))
    task_runs()

    monday = result(holder, MON)
    assert monday.status == "normal" and monday.flagged


def test_a_night_shifts_morning_punch_belongs_to_the_night_before(hr) -> None:
    services.shift_create(code="night", name="Night", start=dt.time(22, 0), end=dt.time(6, 0),
                          by=hr)
    holder = make_cardholder(number="N001", kind="staff")
    card = make_card(cardholder=holder)
    services.roster_put(entries=[{"cardholder": "N001", "from": dt.date(2026, 11, 2),
                                  "to": dt.date(2026, 11, 6), "weekdays": [1, 2, 3, 4, 5],
                                  "shift": "night"}], by=hr)
    clock = attendance_clock()
    upload(clock, punch(clock, card, local(MON, "21:52")), punch(clock, card, local(TUE, "07:58")))
    task_runs()

    monday = result(holder, MON)
    assert (monday.status, monday.worked_minutes) == ("normal", 480)
    assert monday.last_out == local(TUE, "07:58")
    assert result(holder, TUE).status == "absent"  # Tuesday night: no punch yet


def test_a_part_day_leave_owes_the_rest_and_a_whole_day_is_on_leave(staff, hr) -> None:
    holder, card = staff
    services.leave_create(cardholder="T001", start=local(MON, "08:30"), end=local(MON, "12:30"),
                          kind="sick", by=hr)
    services.leave_create(cardholder="T001", start=local(TUE, "00:00"), end=local(WED, "00:00"),
                          kind="annual", by=hr)
    clock = attendance_clock()
    upload(clock, punch(clock, card, local(MON, "12:33")), punch(clock, card, local(MON, "17:31")))
    task_runs()

    monday = result(holder, MON)
    assert (monday.status, monday.late_minutes, monday.leave_minutes, monday.leave_kind) == \
        ("normal", 0, 240, "sick")
    tuesday = result(holder, TUE)
    assert (tuesday.status, tuesday.leave_kind) == ("on_leave", "annual")


def test_a_correction_counts_once_hr_approves_it(staff, hr) -> None:
    holder, card = staff
    clock = attendance_clock()
    upload(clock, punch(clock, card, local(MON, "08:29")))
    task_runs()
    fix = services.correction_add(cardholder="T001", ts=local(MON, "17:32"),
                                  reason="clock was down", by=hr)
    task_runs()
    assert result(holder, MON).status == "missing_punch"

    services.correction_decide(correction=fix, approve=True, by=hr)
    task_runs()
    monday = result(holder, MON)
    assert (monday.status, monday.corrected) == ("normal", True)


def test_a_late_punch_for_a_closed_month_is_an_exception_not_a_change(staff, hr) -> None:
    holder, card = staff
    services.month_close(month=dt.date(2026, 11, 1), department=None, by=hr)
    closed = result(holder, MON)
    assert closed.status == "absent"

    clock = attendance_clock()
    upload(clock, punch(clock, card, local(MON, "08:29")), punch(clock, card, local(MON, "17:31")))
    task_runs()

    assert DayResult.objects.get(pk=closed.pk).status == "absent"
    exception = AttendanceException.objects.get(cardholder=holder, date=MON)
    assert exception.kind == "late_punch"
    assert exception.proposed["result"]["status"] == "normal"

    services.exception_resolve(exception=exception, apply=True, by=hr, note="clock repaired")
    assert result(holder, MON).status == "normal"


def test_computing_a_day_again_with_nothing_new_changes_no_row(staff) -> None:
    holder, card = staff
    clock = attendance_clock()
    upload(clock, punch(clock, card, local(MON, "08:28")), punch(clock, card, local(MON, "17:35")))
    task_runs()
    before = result(holder, MON)

    assert compute.results_compute([(holder.pk, dt.date.fromisoformat(MON))]) == 0
    assert result(holder, MON).computed_at == before.computed_at


def test_hr_rosters_a_whole_department_in_one_list(hr, day_shift) -> None:
    """Forty holders at once (the audit event once tried to name them all in its
    64-character subject and the roster failed)."""
    numbers = [f"D{n:03d}" for n in range(40)]
    for number in numbers:
        make_cardholder(number=number, kind="staff")
    services.roster_put(entries=[{"cardholder": n, "from": dt.date(2026, 11, 1),
                                  "to": dt.date(2026, 11, 30), "weekdays": [1, 2, 3, 4, 5],
                                  "shift": "day"} for n in numbers], by=hr)
    task_runs()

    from accounts.models import AuditEvent

    event = AuditEvent.objects.get(action="attendance.roster_put")
    assert event.subject_id == "40 cardholders"
    assert event.after is not None and event.after["cardholders"] == numbers
    assert DayResult.objects.filter(date=dt.date(2026, 11, 2)).count() == 40
