"""An HR clerk in the console (Django admin): a shift, a roster entry and leave added
through the forms (so through the services: audited, channel admin), results filtered
by department, a correction approved by an action, the month report as a page and as
XLSX, an exception resolved by an action."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from openpyxl import load_workbook

from accounts.models import AuditEvent
from attendance import services
from attendance.models import (
    AttendanceException,
    Correction,
    CorrectionStatus,
    DayResult,
    RosterEntry,
    Shift,
)
from tests.attendance.clock import attendance_clock, local, punch, task_runs, upload
from tests.factories import StaffFactory, make_card, make_cardholder

pytestmark = pytest.mark.django_db
PASSWORD = "pw-staff-123"  # what StaffFactory sets


def console(role: str) -> tuple[Client, Any]:
    call_command("create_role_groups", stdout=io.StringIO())
    user = StaffFactory(role=role, is_staff=True)
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client, user


@pytest.fixture
def clerk() -> tuple[Client, Any]:
    return console("hr")


def test_hr_sets_up_a_shift_roster_and_leave_in_the_console(clerk: tuple[Client, Any]) -> None:
    client, user = clerk
    holder = make_cardholder(number="C001", kind="staff", department="LAB")
    answer = client.post("/admin/attendance/shift/add/", {
        "code": "day", "name": "Day", "start": "08:30", "end": "17:30", "grace_minutes": 5,
        "break_minutes": 60, "overtime_after_minutes": 0, "round_in_minutes": 0,
        "round_out_minutes": 0})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    shift = Shift.objects.get(code="day")
    answer = client.post("/admin/attendance/rosterentry/add/", {
        "cardholder": holder.pk, "first": "2026-11-01", "last": "2026-11-30",
        "weekdays": ["1", "2", "3", "4", "5"], "shift": shift.pk})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert RosterEntry.objects.get().weekdays == [1, 2, 3, 4, 5]
    answer = client.post("/admin/attendance/leave/add/", {
        "cardholder": holder.pk, "kind": "annual", "start_0": "2026-11-02",
        "start_1": "00:00:00", "end_0": "2026-11-03", "end_1": "00:00:00", "note": ""})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    task_runs()

    assert DayResult.objects.get(cardholder=holder, date=dt.date(2026, 11, 2)).status == \
        "on_leave"
    actions = set(AuditEvent.objects.filter(channel="admin", actor=user)
                  .values_list("action", flat=True))
    assert {"attendance.shift_create", "attendance.roster_put",
            "attendance.leave_create"} <= actions


def test_hr_filters_results_by_department_and_reads_the_month_report(
        clerk: tuple[Client, Any]) -> None:
    client, user = clerk
    services.shift_create(code="day", name="Day", start=dt.time(8, 30), end=dt.time(17, 30),
                          by=user)
    for number, unit in (("L001", "LAB"), ("O001", "OFFICE")):
        make_card(cardholder=make_cardholder(number=number, kind="staff", department=unit))
        services.roster_put(entries=[{"cardholder": number, "from": dt.date(2026, 11, 2),
                                      "to": dt.date(2026, 11, 6), "weekdays": [1, 2, 3, 4, 5],
                                      "shift": "day"}], by=user)
    task_runs()

    page = client.get("/admin/attendance/dayresult/?department=LAB")
    assert page.status_code == 200
    body = page.content.decode()
    assert "L001" in body and "O001" not in body
    report = client.get("/admin/attendance/dayresult/report/?month=2026-11&department=LAB")
    assert report.status_code == 200
    assert "L001" in report.content.decode() and "O001" not in report.content.decode()
    sheet = client.get("/admin/attendance/dayresult/report/?month=2026-11&format=xlsx")
    assert sheet["Content-Type"].startswith("application/vnd.openxmlformats")
    cells = {c for row in load_workbook(io.BytesIO(sheet.content)).active.iter_rows(
        values_only=True) for c in row if c}
    assert {"L001", "O001"} <= cells
    unknown = client.get("/admin/attendance/dayresult/report/?month=2026-11&department=NOPE")
    assert "L001" not in unknown.content.decode()


def test_corrections_are_approved_and_exceptions_resolved_by_actions(
        clerk: tuple[Client, Any]) -> None:
    client, user = clerk
    services.shift_create(code="day", name="Day", start=dt.time(8, 30), end=dt.time(17, 30),
                          by=user)
    card = make_card(cardholder=make_cardholder(number="K001", kind="staff"))
    services.roster_put(entries=[{"cardholder": "K001", "from": dt.date(2026, 11, 2),
                                  "to": dt.date(2026, 11, 6), "weekdays": [1, 2, 3, 4, 5],
                                  "shift": "day"}], by=user)
    clock = attendance_clock()
    upload(clock, punch(clock, card, local("2026-11-02", "08:25")))
    correction = services.correction_add(cardholder="K001", ts=local("2026-11-02", "17:40"),
                                         reason="reader was down", by=user)
    answer = client.post("/admin/attendance/correction/", {
        "action": "approve", "_selected_action": [correction.pk]})
    assert answer.status_code == 302
    assert Correction.objects.get().status == CorrectionStatus.APPROVED
    task_runs()
    assert DayResult.objects.get(cardholder=card.cardholder, date=dt.date(2026, 11, 2)).status \
        == "normal"

    services.month_close(month=dt.date(2026, 11, 1), department=None, by=user)
    upload(clock, punch(clock, card, local("2026-11-03", "08:20")),
           punch(clock, card, local("2026-11-03", "17:35")))
    task_runs()
    exception = AttendanceException.objects.get()
    answer = client.post("/admin/attendance/attendanceexception/", {
        "action": "keep", "_selected_action": [exception.pk]})
    assert answer.status_code == 302
    exception.refresh_from_db()
    assert exception.status == "resolved"
    assert DayResult.objects.get(cardholder=card.cardholder, date=dt.date(2026, 11, 3)).status \
        == "absent"


def test_security_sees_no_attendance_console() -> None:
    client, _user = console("security")
    assert client.get("/admin/attendance/dayresult/").status_code == 403
