"""An HR clerk's month through the API: a shift and a roster, leave, clocks uploading
punches, results, a supervisor's correction approved, the month closed, a late punch
becoming an exception, and the month report as JSON and XLSX in both languages."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from accounts.models import AuditEvent
from attendance import services
from tests.accounts.api.conftest import client_for, code_of
from tests.attendance.clock import attendance_clock, local, punch, task_runs, upload
from tests.factories import StaffFactory, make_card, make_cardholder

pytestmark = pytest.mark.django_db

API = "/api/v1/attendance"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json()


@pytest.fixture
def hr() -> Any:
    return StaffFactory(username="hr-wang", role="hr")


@pytest.fixture
def office(hr: Any) -> Any:
    return client_for(hr)


@pytest.fixture
def workshop(office: Any) -> dict[str, Any]:
    """Two staff of the workshop on the day shift in November 2026, weekends off."""
    cards = {}
    for number in ("W001", "W002"):
        holder = make_cardholder(number=number, kind="staff", department="WS")
        cards[number] = make_card(cardholder=holder)
    ok(office.post(f"{API}/shifts", {"code": "day", "name": "Day", "start": "08:30",
                                     "end": "17:30", "grace_minutes": 5, "break_minutes": 60,
                                     "overtime_after_minutes": 30,
                                     "rounding": {"in": {"minutes": 5, "direction": "up"}}}),
       201)
    entries: list[dict[str, Any]] = [{"cardholder": n, "from": "2026-11-01", "to": "2026-11-30",
                "weekdays": [1, 2, 3, 4, 5], "shift": "day"} for n in cards]
    entries += [{"cardholder": n, "from": "2026-11-01", "to": "2026-11-30",
                 "weekdays": [6, 7], "shift": None} for n in cards]
    ok(office.put(f"{API}/rosters", {"entries": entries}))
    return cards


def test_hr_sets_up_a_shift_and_reads_it_back(office: Any, workshop: Any) -> None:
    shift = ok(office.get(f"{API}/shifts/day"))
    assert shift["rounding"] == {"in": {"minutes": 5, "direction": "up"}, "out": None}
    again = office.post(f"{API}/shifts", {"code": "day", "name": "again", "start": "09:00",
                                          "end": "18:00"})
    assert (again.status_code, code_of(again)) == (409, "shift_code_in_use")


def test_an_unknown_holder_or_shift_refuses_the_whole_roster(office: Any, workshop: Any) -> None:
    answer = office.put(f"{API}/rosters", {"entries": [
        {"cardholder": "W001", "from": "2026-12-01", "to": "2026-12-31", "weekdays": [1],
         "shift": "day"},
        {"cardholder": "NOBODY", "from": "2026-12-01", "to": "2026-12-31", "weekdays": [1],
         "shift": "nights"}]})
    assert (answer.status_code, code_of(answer)) == (400, "unknown_cardholders")
    assert answer.json()["error"]["cardholders"] == ["NOBODY"]
    answer = office.put(f"{API}/rosters", {"entries": [
        {"cardholder": "W001", "from": "2026-12-01", "to": "2026-12-31", "weekdays": [1],
         "shift": "nights"}]})
    assert (answer.status_code, code_of(answer)) == (400, "unknown_shifts")
    assert len(ok(office.get(f"{API}/rosters?cardholder=W001"))["results"]) == 2


def test_a_month_from_punches_to_the_report(office: Any, workshop: Any, hr: Any) -> None:
    clock = attendance_clock()
    w1, w2 = workshop["W001"], workshop["W002"]
    upload(clock,
           punch(clock, w1, local("2026-11-02", "08:31")),   # rounded up to 08:35
           punch(clock, w1, local("2026-11-02", "18:30")),   # an hour past the end: overtime
           punch(clock, w2, local("2026-11-02", "08:50")),   # late 20
           punch(clock, w2, local("2026-11-02", "17:00")))   # early 30
    ok(office.post(f"{API}/leave", {"cardholder": "W002", "from": "2026-11-03T00:00:00+08:00",
                                    "to": "2026-11-04T00:00:00+08:00", "kind": "sick"}), 201)
    task_runs()

    rows = ok(office.get(f"{API}/results?date=2026-11-02&department=WS"))["results"]
    by = {r["cardholder"]: r for r in rows}
    assert by["W001"]["status"] == "normal"  # 08:35 is within the 5 grace minutes
    assert by["W001"]["first_in"].startswith("2026-11-02T08:35")
    # 08:35 to 17:30 less the hour's break; the hour past the end is overtime
    assert (by["W001"]["overtime_minutes"], by["W001"]["worked_minutes"]) == (60, 475)
    assert (by["W002"]["status"], by["W002"]["late_minutes"], by["W002"]["early_minutes"]) == \
        ("late_and_early", 20, 30)
    tuesday = ok(office.get(f"{API}/results?date=2026-11-03&cardholder=W002"))["results"]
    assert [(r["status"], r["leave_kind"]) for r in tuesday] == [("on_leave", "sick")]

    report = ok(office.get(f"{API}/report?month=2026-11&department=WS"))
    totals = {h["cardholder"]: h for h in report["holders"]}
    assert totals["W002"]["late_count"] == 1 and totals["W002"]["leave_days"]["sick"] == 1
    assert totals["W001"]["overtime_minutes"]["workday"] == 60

    for lang, title in (("zh-hans", "月度考勤"), ("en", "Monthly attendance")):
        sheet = office.get(f"{API}/report?month=2026-11&department=WS&format=xlsx",
                           HTTP_ACCEPT_LANGUAGE=lang)
        assert sheet.status_code == 200
        book = load_workbook(io.BytesIO(sheet.content))
        cells = [c for row in book.active.iter_rows(values_only=True) for c in row if c]
        assert title in cells and "W001" in cells and "W002" in cells


def test_a_supervisor_adds_a_correction_and_hr_approves_it(office: Any, workshop: Any,
                                                            hr: Any) -> None:
    lead = StaffFactory(username="lead-li")
    services.supervisor_set(user=lead, org_unit="WS", by=hr)
    clock = attendance_clock()
    upload(clock, punch(clock, workshop["W001"], local("2026-11-05", "08:29")))
    task_runs()

    made = ok(client_for(lead).post(f"{API}/corrections", {
        "cardholder": "W001", "ts": "2026-11-05T17:35:00+08:00",
        "reason": "forgot to punch out"}), 201)
    assert made["status"] == "pending"
    stranger = client_for(StaffFactory(username="nobody-zhou"))
    refused = stranger.post(f"{API}/corrections", {"cardholder": "W001",
                                                   "ts": "2026-11-05T17:35:00+08:00",
                                                   "reason": "x"})
    assert refused.status_code == 403
    assert client_for(lead).post(f"{API}/corrections/{made['id']}/approve").status_code == 403

    ok(office.post(f"{API}/corrections/{made['id']}/approve"))
    again = office.post(f"{API}/corrections/{made['id']}/approve")
    assert (again.status_code, code_of(again)) == (409, "correction_already_decided")
    task_runs()
    row = ok(office.get(f"{API}/results?date=2026-11-05&cardholder=W001"))["results"][0]
    assert (row["status"], row["corrected"]) == ("normal", True)
    assert AuditEvent.objects.filter(action="attendance.correction_approve").count() == 1


def test_a_closed_month_does_not_change_and_a_late_punch_waits_for_hr(office: Any,
                                                                       workshop: Any) -> None:
    closed = ok(office.post(f"{API}/months/2026-11/close", {"department": "WS"}))
    assert closed["month"] == "2026-11"
    twice = office.post(f"{API}/months/2026-11/close", {"department": "WS"})
    assert (twice.status_code, code_of(twice)) == (409, "month_already_closed")
    before = ok(office.get(f"{API}/results?date=2026-11-09&cardholder=W001"))["results"]
    assert before[0]["status"] == "absent"

    clock = attendance_clock()
    upload(clock, punch(clock, workshop["W001"], local("2026-11-09", "08:20")),
           punch(clock, workshop["W001"], local("2026-11-09", "17:40")))
    task_runs()

    after = ok(office.get(f"{API}/results?date=2026-11-09&cardholder=W001"))["results"]
    assert after == before
    [exception] = ok(office.get(f"{API}/exceptions?status=open"))["results"]
    assert (exception["kind"], exception["date"]) == ("late_punch", "2026-11-09")
    assert exception["proposed"]["result"]["status"] == "normal"
    resolved = ok(office.post(f"{API}/exceptions/{exception['id']}/resolve",
                              {"apply": True, "note": "the clock was offline"}))
    assert resolved["status"] == "resolved"
    applied = ok(office.get(f"{API}/results?date=2026-11-09&cardholder=W001"))["results"]
    assert applied[0]["status"] == "normal"


def test_only_hr_reads_attendance_and_the_auditor_only_reads(workshop: Any) -> None:
    security = client_for(StaffFactory(username="guard", role="security"))
    assert security.get(f"{API}/results").status_code == 403
    auditor = client_for(StaffFactory(username="auditor", role="auditor"))
    assert auditor.get(f"{API}/results").status_code == 200
    assert auditor.post(f"{API}/shifts", {"code": "x", "name": "x", "start": "08:00",
                                          "end": "09:00"}).status_code == 403
