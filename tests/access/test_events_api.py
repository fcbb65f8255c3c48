"""A security officer at the console's API: the door events controllers uploaded, the
alarms their heartbeats raised and their acknowledgement, who is inside an area, and the
entries report as JSON and as a spreadsheet in the officer's language."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from access import services
from access.alarms import controller_faults_record
from access.events import door_records_project_pending
from access.models import AccessAlarm, AccessEvent, Door
from accounts.models import AuditEvent
from terminals.models import Terminal
from tests.access.door_records import door_controller, heartbeat, later, passage, upload
from tests.access.scenario import holder_with_card
from tests.accounts.api.conftest import client_for, code_of
from tests.factories import StaffFactory
from tests.terminals.protocol import SignedTerminal

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/access/events"
ALARMS = "/api/v1/access/alarms"
PRESENCE = "/api/v1/access/presence"
REPORT = "/api/v1/access/report"


@dataclass
class Building:
    ctrl: SignedTerminal
    t: int
    li: Any
    wang: Any


@pytest.fixture
def officer() -> Any:
    return StaffFactory(username="security-zhao", role="security")


@pytest.fixture
def desk(officer: Any) -> Any:
    return client_for(officer)


@pytest.fixture
def building(officer: Any) -> Building:
    """The lab building: door 1 in, door 2 out. Li came in; Wang came in, was refused at
    the server room, and left. The records arrive through the ingest, whose hook makes
    the events as they are stored."""
    ctrl = door_controller(doors=3)
    services.area_create(code="lab", name="Lab building", by=officer)
    for number, direction in ((1, "entry"), (2, "exit"), (3, None)):
        services.door_update(door=Door.objects.get(pk=f"{ctrl.terminal_id}-{number}"),
                             area="lab", direction=direction, by=officer)
    li, wang = holder_with_card(number="T001"), holder_with_card(number="T002")
    t = later()
    upload(ctrl, passage(ctrl, li.card_no, 1, t), passage(ctrl, wang.card_no, 1, t + 60),
           passage(ctrl, wang.card_no, 3, t + 120, result="denied", reason="not_allowed"),
           passage(ctrl, wang.card_no, 2, t + 180))
    return Building(ctrl=ctrl, t=t, li=li, wang=wang)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json()


def iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


def test_the_ingest_made_the_events_and_the_catch_up_finds_nothing_left(
        building: Building) -> None:
    assert AccessEvent.objects.count() == 4
    assert door_records_project_pending() == 0


def test_an_officer_reads_the_events_newest_first_and_filters_them(
        desk: Any, building: Building) -> None:
    everything = ok(desk.get(EVENTS))

    assert everything["count"] == 4
    newest = everything["results"][0]
    assert (newest["door"], newest["cardholder"], newest["result"], newest["direction"],
            newest["area"], newest["reason"], newest["flag"]) == (
        f"{building.ctrl.terminal_id}-2", "T002", "granted", "exit", "lab", None, None)
    assert newest["controller"] == building.ctrl.terminal_id
    assert dt.datetime.fromisoformat(newest["ts"]).timestamp() == building.t + 180
    assert [e["terminal_seq"] for e in everything["results"]] == [4, 3, 2, 1]

    refused = ok(desk.get(EVENTS, {"result": "denied"}))["results"]
    assert [(e["cardholder"], e["reason"]) for e in refused] == [("T002", "not_allowed")]
    wang = ok(desk.get(EVENTS, {"cardholder": "T002", "door": f"{building.ctrl.terminal_id}-1"}))
    assert [e["terminal_seq"] for e in wang["results"]] == [2]
    window = ok(desk.get(EVENTS, {"from": iso(building.t + 60), "to": iso(building.t + 180)}))
    assert [e["terminal_seq"] for e in window["results"]] == [3, 2]
    assert ok(desk.get(EVENTS, {"flagged": "true"}))["count"] == 0
    assert ok(desk.get(EVENTS, {"page_size": 1, "page": 2}))["results"][0]["terminal_seq"] == 3


@pytest.mark.parametrize(("query", "field"), [
    ({"door": "DOOR-9999-1"}, "door"),
    ({"cardholder": "NOBODY"}, "cardholder"),
    ({"area": "nowhere"}, "area"),
    ({"result": "maybe"}, "result"),
    ({"from": "2026-13-01"}, "from"),
    ({"from": "2026-11-02", "to": "2026-11-01"}, "to"),
    ({"flagged": "yes"}, "flagged"),
])
def test_a_filter_the_server_cannot_read_is_refused_naming_it(
        desk: Any, building: Building, query: dict[str, str], field: str) -> None:
    answer = desk.get(EVENTS, query)

    assert answer.status_code == 400
    assert code_of(answer) == "invalid_request"
    assert field in answer.json()["error"]["fields"]


def test_an_officer_acknowledges_a_forced_door_once(desk: Any, officer: Any) -> None:
    ctrl = door_controller(doors=2)
    heartbeat(ctrl, faults=[{"code": "door_forced", "message": "door 2"}])
    terminal = Terminal.objects.get(terminal_id=ctrl.terminal_id)
    controller_faults_record(controller=terminal, faults=terminal.faults, at=timezone.now())

    [alarm] = ok(desk.get(ALARMS, {"status": "open"}))["results"]
    assert (alarm["controller"], alarm["door"], alarm["door_number"], alarm["kind"],
            alarm["status"], alarm["acknowledged_by"]) == (
        ctrl.terminal_id, f"{ctrl.terminal_id}-2", 2, "door_forced", "open", None)

    url = f"{ALARMS}/{alarm['id']}/acknowledge"
    done = ok(desk.post(url, {"note": "Lock broken; maintenance called."},
                        HTTP_IDEMPOTENCY_KEY="ack-1"))
    again = desk.post(url, {"note": "Lock broken; maintenance called."},
                      HTTP_IDEMPOTENCY_KEY="ack-1")

    assert (done["status"], done["acknowledged_by"], done["note"]) == (
        "acknowledged", "security-zhao", "Lock broken; maintenance called.")
    assert done["acknowledged_at"] is not None
    assert (again.status_code, again.json()) == (200, done)  # the retry, answered again
    assert AuditEvent.objects.filter(action="access.alarm.acknowledge").count() == 1
    second = desk.post(url, {"note": "me too"}, HTTP_IDEMPOTENCY_KEY="ack-2")
    assert (second.status_code, code_of(second)) == (409, "alarm_already_acknowledged")
    assert ok(desk.get(ALARMS, {"status": "open"}))["count"] == 0
    assert ok(desk.get(ALARMS, {"status": "acknowledged"}))["count"] == 1
    assert code_of(desk.post(f"{ALARMS}/999999/acknowledge", {})) == "not_found"
    assert AccessAlarm.objects.get().note == "Lock broken; maintenance called."


def test_only_security_sees_events_and_the_auditor_may_read_but_not_acknowledge(
        building: Building) -> None:
    clerk = client_for(StaffFactory(role="card_office"))
    auditor = client_for(StaffFactory(role="auditor"))

    assert code_of(clerk.get(EVENTS)) == "forbidden"
    assert ok(auditor.get(EVENTS))["count"] == 4
    assert code_of(auditor.post(f"{ALARMS}/1/acknowledge", {})) == "forbidden"


def test_who_is_inside_and_who_came_in(desk: Any, building: Building) -> None:
    inside = ok(desk.get(PRESENCE, {"area": "lab"}))

    assert (inside["area"], inside["count"], inside["previous"]) == ("lab", 1, None)
    assert [(p["cardholder"], p["card_no"]) for p in inside["results"]] == [
        ("T001", building.li.card_no)]

    report = ok(desk.get(REPORT, {"area": "lab", "from": iso(building.t),
                                  "to": iso(building.t + 3600)}))
    assert [(e["cardholder"], e["direction"]) for e in report["results"]] == [
        ("T001", "entry"), ("T002", "entry")]
    missing = desk.get(REPORT, {"area": "lab"})
    assert missing.status_code == 400
    assert set(missing.json()["error"]["fields"]) == {"from", "to"}
    assert "area" in desk.get(PRESENCE, {"area": "nowhere"}).json()["error"]["fields"]


def test_a_busy_mornings_report_comes_in_pages_and_its_spreadsheet_whole(
        desk: Any, officer: Any) -> None:
    ctrl = door_controller(doors=1)
    services.area_create(code="hall", name="Exam hall", by=officer)
    services.door_update(door=Door.objects.get(pk=f"{ctrl.terminal_id}-1"), area="hall",
                         direction="entry", by=officer)
    cards = [holder_with_card(number=f"P{i:03d}") for i in range(1, 9)]
    t = later()
    # Two students through the door in each second: the order must still be one order.
    upload(ctrl, *(passage(ctrl, card.card_no, 1, t + i // 2) for i, card in enumerate(cards)))
    everyone = sorted(card.cardholder.number for card in cards)
    period = {"area": "hall", "from": iso(t), "to": iso(t + 60)}

    for url, query in ((REPORT, period), (PRESENCE, {"area": "hall"})):
        pages = [ok(desk.get(url, {**query, "page": n, "page_size": 3})) for n in (1, 2, 3)]
        seen = [row["cardholder"] for page in pages for row in page["results"]]
        assert [len(page["results"]) for page in pages] == [3, 3, 2]
        assert {page["count"] for page in pages} == {8}
        assert (pages[0]["area"], pages[2]["next"]) == ("hall", None)
        assert sorted(seen) == everyone and len(set(seen)) == 8  # no overlap, none skipped
        past = desk.get(url, {**query, "page": 4, "page_size": 3})
        assert (past.status_code, code_of(past)) == (404, "not_found")
        bad = desk.get(url, {**query, "page": "0"})
        assert (bad.status_code, bad.json()["error"]["field"]) == (400, "page")

    report = ok(desk.get(REPORT, {**period, "page_size": 3}))
    assert [e["cardholder"] for e in report["results"]] == ["P001", "P002", "P003"]
    sheet = desk.get(REPORT, {**period, "format": "xlsx", "page": 2, "page_size": 3})
    rows = sheet_rows(sheet.content)
    header = [r[:2] for r in rows].index(("Time", "Cardholder number"))
    assert [r[1] for r in rows[header + 1:]] == everyone


def sheet_rows(content: bytes) -> list[tuple[Any, ...]]:
    from openpyxl import load_workbook

    return [tuple(r) for r in load_workbook(io.BytesIO(content)).active.iter_rows(
        values_only=True)]


@pytest.mark.parametrize(("language", "entry_headers", "inside_headers"), [
    ("en", ("Time", "Cardholder number", "Holder name"),
     ("Cardholder number", "Holder name", "Card number")),
    ("zh-hans", ("时间", "持卡人编号", "姓名"), ("持卡人编号", "姓名", "卡号")),
])
def test_the_spreadsheets_come_in_the_officers_language(
        desk: Any, building: Building, language: str, entry_headers: tuple[str, ...],
        inside_headers: tuple[str, ...]) -> None:
    report = desk.get(REPORT, {"area": "lab", "from": iso(building.t),
                               "to": iso(building.t + 3600), "format": "xlsx"},
                      HTTP_ACCEPT_LANGUAGE=language)
    muster = desk.get(PRESENCE, {"area": "lab", "format": "xlsx"},
                      HTTP_ACCEPT_LANGUAGE=language)

    assert report["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in report["Content-Disposition"]
    rows = sheet_rows(report.content)
    assert any(row[:3] == entry_headers for row in rows)
    assert [r[1] for r in rows[[r[:3] for r in rows].index(entry_headers) + 1:]] == [
        "T001", "T002"]
    rows = sheet_rows(muster.content)
    assert [r[0] for r in rows[[r[:3] for r in rows].index(inside_headers) + 1:]] == ["T001"]
