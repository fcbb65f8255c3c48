"""A security officer's day through the API, and door controllers through the signed
terminal protocol: lists, deltas, the online check, door records, heartbeats."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from access.models import AccessEvent, EventFlag, VisitorGrant
from access.services import visitor_grants_lapse
from accounts import services as accounts
from accounts.models import AuditEvent
from tests.accounts.api.conftest import client_for
from tests.factories import StaffFactory
from tests.terminals.protocol import SignedTerminal, terminal_for

from .scenario import holder_with_card, local_ts

pytestmark = pytest.mark.django_db

LIST = "/api/v1/terminal/access-list"
CHECK = "/api/v1/terminal/access-check"
HEARTBEAT = "/api/v1/terminal/heartbeat"
RECORDS = "/api/v1/terminal/records"
MONDAY_9 = "2030-01-07 09:00"
MONDAY_22 = "2030-01-07 22:00"


@pytest.fixture
def admin() -> Any:
    return StaffFactory(username="admin-qian", role="admin")


@pytest.fixture
def security() -> Any:
    return client_for(StaffFactory(username="security-zhao", role="security"))


@pytest.fixture
def door(admin: Any) -> SignedTerminal:
    return terminal_for(Client(), "door", by=admin, name="Lab block", doors=2)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json()


def listed(door: SignedTerminal, since: int) -> dict[str, Any]:
    return ok(door.get(f"{LIST}?since={since}"))


def checked(door: SignedTerminal, card: Any, number: int, when: str | int) -> tuple[bool, Any]:
    ts = when if isinstance(when, int) else local_ts(when)
    body = ok(door.post(CHECK, {"card_no": card.card_no, "door": number, "ts": ts}))
    return body["granted"], body["reason"]


def lab_group(security: Any, door: SignedTerminal, *members: Any, doors: tuple[int, ...] = (1,),
              code: str = "lab-a") -> None:
    ok(security.post("/api/v1/access/schedules", {
        "code": "office-hours", "name": "Office hours", "holidays": "closed",
        "windows": [{"days": [1, 2, 3, 4, 5], "from": "07:30", "to": "19:00"}]}), 201)
    ok(security.post("/api/v1/access/groups", {
        "code": code, "name": "Lab A", "schedule": "office-hours",
        "doors": [f"{door.terminal_id}-{n}" for n in doors]}), 201)
    ok(security.post(f"/api/v1/access/groups/{code}/members",
                     {"add": [m.cardholder.number for m in members], "remove": []}))


class Doors:
    """Door records as a controller uploads them."""

    def __init__(self, door: SignedTerminal) -> None:
        self.door = door

    def badge(self, card: Any, number: int, when: str, *, granted: bool = True,
              reason: str | None = None, direction: str | None = None) -> None:
        record = {"type": "door", "terminal_seq": self.door.next_seq(), "ts": local_ts(when),
                  "card_no": card.card_no, "door": number,
                  "result": "granted" if granted else "denied", "reason": reason,
                  "direction": direction}
        results = ok(self.door.upload([record]))["results"]
        assert results[0]["status"] == "accepted", results


def test_a_security_officer_builds_a_door_group_and_the_controller_applies_it(
        security: Any, door: SignedTerminal) -> None:
    card = holder_with_card()
    doors = ok(security.get(f"/api/v1/access/doors?controller={door.terminal_id}"))["results"]
    assert [(d["id"], d["door"]) for d in doors] == [(f"{door.terminal_id}-1", 1),
                                                     (f"{door.terminal_id}-2", 2)]

    lab_group(security, door, card)

    full = listed(door, 0)
    assert full["full"] is True and full["version"] >= 1
    assert full["grants"] == [{"card_no": card.card_no, "doors": [1],
                               "schedule": "office-hours"}]
    assert full["schedules"] == {"office-hours": [
        {"days": [1, 2, 3, 4, 5], "from": "07:30", "to": "19:00"}]}
    assert checked(door, card, 1, MONDAY_9) == (True, None)
    assert checked(door, card, 1, MONDAY_22) == (False, "schedule")
    assert checked(door, card, 2, MONDAY_9) == (False, "not_allowed")
    ok(security.post("/api/v1/access/holidays", {"date": "2030-01-07", "name": "Closed"}), 201)
    assert checked(door, card, 1, MONDAY_9) == (False, "schedule")
    assert "2030-01-07" in listed(door, full["version"])["holidays"]
    assert AuditEvent.objects.filter(action__startswith="access.").count() >= 4

    beat = ok(door.post(HEARTBEAT, {"ts": int(time.time()), "blacklist_version": 0,
                                    "access_list_version": full["version"],
                                    "config_version": 1, "last_seq": 0, "queued_records": 0}))
    assert beat["access_list_version"] == full["version"] + 1  # the holiday came since
    terminals = ok(client_for(StaffFactory(role="admin")).get("/api/v1/terminals?kind=door"))
    (row,) = [t for t in terminals if t["terminal_id"] == door.terminal_id]
    assert (row["access_list_version"], row["access_list_latest"]) == (
        full["version"], full["version"] + 1)


def test_a_lost_card_is_in_the_next_delta_and_unlock_restores_it(
        security: Any, door: SignedTerminal, clerk: Any) -> None:
    card, other = holder_with_card(), holder_with_card()
    lab_group(security, door, card, other)
    held = listed(door, 0)["version"]

    accounts.card_report_loss(card=card, by=clerk)

    delta = listed(door, held)
    assert (delta["full"], delta["grants"], delta["revoke"]) == (False, [], [card.card_no])
    assert checked(door, card, 1, MONDAY_9) == (False, "blacklisted")
    assert checked(door, other, 1, MONDAY_9) == (True, None)

    accounts.card_unlock(card=card, by=clerk)

    again = listed(door, delta["version"])
    assert again["grants"] == [{"card_no": card.card_no, "doors": [1],
                                "schedule": "office-hours"}]
    assert checked(door, card, 1, MONDAY_9) == (True, None)


def test_unknown_members_doors_and_schedules_are_refused_whole(
        security: Any, door: SignedTerminal) -> None:
    card = holder_with_card()
    lab_group(security, door)

    members = security.post("/api/v1/access/groups/lab-a/members",
                            {"add": [card.cardholder.number, "X-404"], "remove": ["X-405"]})
    doors = security.post("/api/v1/access/groups", {
        "code": "lab-b", "name": "B", "schedule": "office-hours",
        "doors": [f"{door.terminal_id}-1", "NOPE-1", "NOPE-2"]})
    schedule = security.post("/api/v1/access/groups", {
        "code": "lab-c", "name": "C", "schedule": "never", "doors": []})

    assert (members.status_code, members.json()["error"]["code"]) == (400, "unknown_cardholders")
    assert members.json()["error"]["cardholders"] == ["X-404", "X-405"]
    assert (doors.status_code, doors.json()["error"]["doors"]) == (400, ["NOPE-1", "NOPE-2"])
    assert schedule.json()["error"]["code"] == "unknown_schedule"
    assert ok(security.get("/api/v1/access/groups/lab-a/members"))["members"] == []
    assert ok(security.get("/api/v1/access/groups"))["count"] == 1


def test_a_visitor_grant_opens_within_its_period_and_lapses(
        security: Any, door: SignedTerminal) -> None:
    visitor = holder_with_card()
    start = timezone.now() - dt.timedelta(hours=1)
    end = timezone.now() + dt.timedelta(hours=1)

    made = ok(security.post("/api/v1/access/visitors", {
        "cardholder": visitor.cardholder.number, "doors": [f"{door.terminal_id}-2"],
        "from": start.isoformat(), "to": end.isoformat(), "note": "contractor"}), 201)

    (grant,) = listed(door, 0)["grants"]
    assert (grant["doors"], grant["from"], grant["to"]) == (
        [2], int(start.timestamp()), int(end.timestamp()))
    now = int(time.time())
    assert checked(door, visitor, 2, now) == (True, None)
    assert checked(door, visitor, 2, int(end.timestamp())) == (False, "not_allowed")
    assert checked(door, visitor, 1, now) == (False, "not_allowed")

    held = listed(door, 0)["version"]
    assert visitor_grants_lapse(now=end + dt.timedelta(seconds=1)) == 1
    assert listed(door, held)["revoke"] == [visitor.card_no]
    assert VisitorGrant.objects.get(pk=made["id"]).revoked_at is not None


def test_a_lockdown_denies_all_but_the_security_group_and_ends(
        security: Any, door: SignedTerminal) -> None:
    staff, guard = holder_with_card(), holder_with_card()
    lab_group(security, door, staff)
    ok(security.post("/api/v1/access/groups", {"code": "guards", "name": "Guards",
                                               "schedule": "office-hours"}), 201)
    ok(security.post("/api/v1/access/groups/guards/members", {"add": [guard.cardholder.number]}))
    ok(security.post("/api/v1/access/areas", {"code": "lab", "name": "Lab"}), 201)
    ok(security.patch(f"/api/v1/access/doors/{door.terminal_id}-1", {"area": "lab"}))
    held = listed(door, 0)["version"]

    lockdown = ok(security.post("/api/v1/access/lockdowns", {
        "area": "lab", "mode": "locked", "except_group": "guards"}), 201)

    assert checked(door, staff, 1, MONDAY_9) == (False, "lockdown")
    assert checked(door, guard, 1, MONDAY_22) == (True, None)
    Doors(door).badge(staff, 1, MONDAY_9, granted=False, reason="lockdown")
    assert AccessEvent.objects.get().reason == "lockdown"
    delta = listed(door, held)
    (one,) = [d for d in delta["doors"] if d["door"] == 1]
    assert (one["mode"], one["except"]) == ("locked", [guard.card_no])
    again = security.post("/api/v1/access/lockdowns", {"area": "lab", "mode": "open"})
    assert again.json()["error"]["code"] == "lockdown_active"

    ok(security.post(f"/api/v1/access/lockdowns/{lockdown['id']}/end", {}))

    assert checked(door, staff, 1, MONDAY_9) == (True, None)
    assert [d["mode"] for d in listed(door, delta["version"])["doors"]] == ["normal", "normal"]


def test_a_fire_alarm_holds_the_area_open(security: Any, door: SignedTerminal) -> None:
    nobody = holder_with_card()
    ok(security.post("/api/v1/access/areas", {"code": "hall", "name": "Hall"}), 201)
    ok(security.patch(f"/api/v1/access/doors/{door.terminal_id}-2", {"area": "hall"}))

    ok(security.post("/api/v1/access/lockdowns", {"area": "hall", "mode": "open"}), 201)

    assert checked(door, nobody, 2, MONDAY_22) == (True, None)
    assert checked(door, nobody, 1, MONDAY_22) == (False, "not_allowed")


def _entry_exit_area(security: Any, door: SignedTerminal, mode: str) -> None:
    ok(security.post("/api/v1/access/areas", {"code": "lab", "name": "Lab",
                                              "antipassback": mode}), 201)
    ok(security.patch(f"/api/v1/access/doors/{door.terminal_id}-1",
                      {"area": "lab", "direction": "entry"}))
    ok(security.patch(f"/api/v1/access/doors/{door.terminal_id}-2",
                      {"area": "lab", "direction": "exit"}))


def test_hard_antipassback_denies_a_second_entry_without_an_exit(
        security: Any, door: SignedTerminal) -> None:
    card = holder_with_card()
    lab_group(security, door, card, doors=(1, 2))
    _entry_exit_area(security, door, "hard")
    doors = Doors(door)

    assert checked(door, card, 1, "2030-01-07 09:00") == (True, None)
    doors.badge(card, 1, "2030-01-07 09:00", direction="entry")
    assert checked(door, card, 1, "2030-01-07 09:05") == (False, "antipassback")
    doors.badge(card, 2, "2030-01-07 12:00", direction="exit")
    assert checked(door, card, 1, "2030-01-07 13:00") == (True, None)
    entry = next(d for d in listed(door, 0)["doors"] if d["door"] == 1)
    assert (entry["direction"], entry["antipassback"]) == ("entry", "hard")


def test_soft_antipassback_grants_and_flags_the_event(
        security: Any, door: SignedTerminal) -> None:
    card = holder_with_card()
    lab_group(security, door, card, doors=(1, 2))
    _entry_exit_area(security, door, "soft")
    doors = Doors(door)
    doors.badge(card, 1, "2030-01-07 09:00", direction="entry")

    assert checked(door, card, 1, "2030-01-07 09:05") == (True, None)
    doors.badge(card, 1, "2030-01-07 09:05", direction="entry")

    flags = list(AccessEvent.objects.order_by("ts").values_list("flag_reason", flat=True))
    assert flags == ["", EventFlag.ANTIPASSBACK_SOFT]


def test_a_lab_opens_for_the_day_when_its_supervisor_arrives(
        security: Any, door: SignedTerminal) -> None:
    supervisor, student = holder_with_card(), holder_with_card()
    lab_group(security, door, supervisor, code="supervisors")
    ok(security.patch(f"/api/v1/access/doors/{door.terminal_id}-1", {
        "unlock_schedule": "office-hours", "first_card_group": "supervisors"}))

    assert checked(door, student, 1, "2030-01-07 08:00") == (False, "not_allowed")
    Doors(door).badge(supervisor, 1, "2030-01-07 08:30")
    assert checked(door, student, 1, "2030-01-07 09:00") == (True, None)
    assert checked(door, student, 1, "2030-01-07 20:00") == (False, "not_allowed")
    assert checked(door, student, 1, "2030-01-08 09:00") == (False, "not_allowed")
    (first,) = [d for d in listed(door, 0)["doors"] if d["door"] == 1]
    assert (first["unlock_schedule"], first["first_card"]) == ("office-hours",
                                                               [supervisor.card_no])


def test_a_revoked_card_let_in_by_a_lagging_controller_is_flagged(
        security: Any, door: SignedTerminal, clerk: Any) -> None:
    card = holder_with_card()
    lab_group(security, door, card)
    held = listed(door, 0)["version"]
    ok(door.post(HEARTBEAT, {"ts": int(time.time()), "access_list_version": held}))
    accounts.card_report_loss(card=card, by=clerk)

    soon = timezone.localtime() + dt.timedelta(seconds=2)
    Doors(door).badge(card, 1, soon.strftime("%Y-%m-%d %H:%M:%S"))

    event = AccessEvent.objects.get()
    assert (event.flagged, event.flag_reason, event.list_version_held) == (
        True, EventFlag.REVOKED_CARD_LET_IN, held)


def test_only_door_controllers_ask_for_access_lists(admin: Any) -> None:
    kiosk = terminal_for(Client(), "kiosk", by=admin)
    door = terminal_for(Client(), "door", by=admin, doors=2)

    refused = kiosk.get(f"{LIST}?since=0")
    bad_door = door.post(CHECK, {"card_no": "20260001", "door": 3, "ts": 0})
    unknown = door.post(CHECK, {"card_no": "20269999", "door": 1, "ts": 0})

    assert (refused.status_code, refused.json()["error"]["code"]) == (403,
                                                                      "not_allowed_for_kind")
    assert (bad_door.status_code, bad_door.json()["error"]["field"]) == (400, "door")
    assert ok(unknown) == {"granted": False, "reason": "unknown_card"}
