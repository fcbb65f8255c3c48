"""A security officer's first hour in the console (Django admin): an area, a door put in
it, a schedule with an overnight window, a door group with its members, a holiday, a
visitor, a lockdown, alarms acknowledged; every change through the access services
(audited, channel admin), events read-only."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from access.alarms import controller_faults_record
from access.models import (
    AccessAlarm,
    AccessGroup,
    AlarmStatus,
    Area,
    ControllerGrant,
    Door,
    Lockdown,
    Schedule,
    VisitorGrant,
)
from accounts.models import AuditEvent
from core.models import Holiday
from terminals.models import Terminal
from tests.access.door_records import door_controller
from tests.access.scenario import holder_with_card
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pw-staff-123"  # what StaffFactory sets


def console(role: str) -> tuple[Client, Any]:
    call_command("create_role_groups", stdout=io.StringIO())
    user = StaffFactory(role=role, is_staff=True)
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client, user


@pytest.fixture
def officer() -> tuple[Client, Any]:
    return console("security")


def shown(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def inline(prefix: str, rows: list[dict[str, Any]], initial: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {f"{prefix}-TOTAL_FORMS": str(len(rows)),
                            f"{prefix}-INITIAL_FORMS": str(initial),
                            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    return data


def audited(action: str) -> AuditEvent:
    event = AuditEvent.objects.filter(action=action).latest("at")
    assert event.channel == "admin"
    return event


def test_an_officer_sets_up_an_area_a_door_a_schedule_and_a_group(
        officer: tuple[Client, Any]) -> None:
    client, user = officer
    lab = door_controller(doors=2)
    door_id = f"{lab.terminal_id}-1"
    zhang, li = holder_with_card(number="T001"), holder_with_card(number="T002")

    added = client.post("/admin/access/area/add/", {"code": "lab", "name": "Lab building",
                                                    "antipassback": "soft"})
    assert added.status_code == 302, added.content
    assert Area.objects.get(code="lab").antipassback == "soft"
    assert audited("access.area.create").actor == user

    door = client.post(f"/admin/access/door/{door_id}/change/", {
        "name": "Lab front door", "area": Area.objects.get(code="lab").pk,
        "direction": "entry", "unlock_schedule": "", "first_card_group": ""})
    assert door.status_code == 302, door.content
    placed = Door.objects.select_related("area").get(pk=door_id)
    assert (placed.area.code if placed.area else None, placed.direction) == ("lab", "entry")
    assert (audited("access.door.update").after or {})["direction"] == "entry"

    schedule = client.post("/admin/access/schedule/add/", {
        "code": "nights", "name": "Night shift", "holidays": "open",
        **inline("windows", [{"weekdays": ["1", "2", "3", "4", "5"], "start": "07:30",
                              "end": "19:00"},
                             {"weekdays": ["5"], "start": "22:00", "end": "06:00"}])})
    assert schedule.status_code == 302, schedule.content
    windows = Schedule.objects.get(code="nights").windows.order_by("id")
    assert [(w.weekdays, f"{w.start:%H:%M}-{w.end:%H:%M}") for w in windows] == [
        ([1, 2, 3, 4, 5], "07:30-19:00"), ([5], "22:00-06:00")]
    page = client.get(f"/admin/access/schedule/{Schedule.objects.get(code='nights').pk}/change/")
    assert page.status_code == 200
    assert page.context["inline_admin_formsets"][0].formset.forms[1]["weekdays"].value() == ["5"]

    group = client.post("/admin/access/accessgroup/add/", {
        "code": "lab-a", "name": "Lab A", "schedule": Schedule.objects.get(code="nights").pk,
        "doors": [door_id],
        **inline("members", [{"cardholder": zhang.cardholder.pk},
                             {"cardholder": li.cardholder.pk}]),
        **inline("org_units", [])})
    assert group.status_code == 302, group.content
    created = AccessGroup.objects.get(code="lab-a")
    assert sorted(created.members.values_list("cardholder__number", flat=True)) == [
        "T001", "T002"]
    assert audited("access.group.members").after == {"added": ["T001", "T002"], "removed": []}
    # The controller's list carries both grants now.
    assert sorted(ControllerGrant.objects.filter(controller__terminal_id=lab.terminal_id)
                  .values_list("card_no", flat=True)) == sorted([zhang.card_no, li.card_no])

    assert client.get(f"/admin/access/accessgroup/{created.pk}/change/").status_code == 200
    member = created.members.get(cardholder__number="T002")
    removed = client.post(f"/admin/access/accessgroup/{created.pk}/change/", {
        "name": "Lab A", "schedule": created.schedule.pk, "doors": [door_id],
        **inline("members", [{"id": member.pk, "group": created.pk,
                              "cardholder": li.cardholder.pk, "DELETE": "on"}], initial=1),
        **inline("org_units", [])})
    assert removed.status_code == 302, removed.content
    assert list(created.members.values_list("cardholder__number", flat=True)) == ["T001"]
    assert audited("access.group.members").after == {"added": [], "removed": ["T002"]}


def test_a_service_refusal_is_shown_and_nothing_is_kept(officer: tuple[Client, Any]) -> None:
    client, _user = officer
    Area.objects.create(code="lab", name="Lab")

    again = client.post("/admin/access/area/add/", {"code": "lab2", "name": "Lab",
                                                    "antipassback": "off"})
    empty = client.post("/admin/access/schedule/add/", {
        "code": "empty", "name": "No windows", "holidays": "closed", **inline("windows", [])})

    assert again.status_code == 302
    assert empty.status_code == 302
    assert any("window" in m for m in shown(empty))
    assert not Schedule.objects.filter(code="empty").exists()


def test_an_officer_adds_and_removes_a_holiday(officer: tuple[Client, Any]) -> None:
    client, _user = officer

    client.post("/admin/core/holiday/add/", {"date": "2030-10-01", "name": "National Day"})
    holiday = Holiday.objects.get(date="2030-10-01")
    assert audited("access.holiday.create")
    client.post(f"/admin/core/holiday/{holiday.pk}/delete/", {"post": "yes"})

    assert not Holiday.objects.exists()
    assert (audited("access.holiday.delete").before or {})["name"] == "National Day"


def test_a_visitor_is_let_in_for_an_afternoon_and_revoked_early(
        officer: tuple[Client, Any]) -> None:
    client, _user = officer
    lab = door_controller()
    guest = holder_with_card(number="V001")

    added = client.post("/admin/access/visitorgrant/add/", {
        "cardholder": guest.cardholder.pk, "doors": [f"{lab.terminal_id}-1"],
        "valid_from_0": "2030-01-07", "valid_from_1": "13:00",
        "valid_to_0": "2030-01-07", "valid_to_1": "17:00", "note": "Contractor"})
    assert added.status_code == 302, added.content
    grant = VisitorGrant.objects.get()
    assert client.get(f"/admin/access/visitorgrant/{grant.pk}/change/").status_code == 200

    client.post("/admin/access/visitorgrant/", {"action": "revoke_selected",
                                                "_selected_action": [grant.pk]})

    grant.refresh_from_db()
    assert grant.revoked_at is not None
    assert audited("access.visitor.revoke")


def test_a_lockdown_is_started_and_ended_from_the_console(officer: tuple[Client, Any]) -> None:
    client, _user = officer
    area = Area.objects.create(code="lab", name="Lab")

    client.post("/admin/access/lockdown/add/", {"area": area.pk, "mode": "locked",
                                                "except_group": "", "reason": "Drill"})
    lockdown = Lockdown.objects.get()
    assert (lockdown.mode, lockdown.ended_at) == ("locked", None)
    client.post("/admin/access/lockdown/", {"action": "end_selected",
                                            "_selected_action": [lockdown.pk]})

    lockdown.refresh_from_db()
    assert lockdown.ended_at is not None
    assert audited("access.lockdown.end")


def test_alarms_are_acknowledged_with_a_note_and_events_are_read_only(
        officer: tuple[Client, Any]) -> None:
    client, user = officer
    lab = door_controller()
    terminal = Terminal.objects.get(terminal_id=lab.terminal_id)
    controller_faults_record(controller=terminal, at=timezone.now(), faults=[
        {"code": "door_forced", "message": "door 1"},
        {"code": "door_held_open", "message": "door 2"}])
    ids = list(AccessAlarm.objects.values_list("pk", flat=True))

    asked = client.post("/admin/access/accessalarm/", {"action": "acknowledge_selected",
                                                       "_selected_action": ids})
    assert asked.status_code == 200 and "note" in asked.text
    done = client.post("/admin/access/accessalarm/", {
        "action": "acknowledge_selected", "_selected_action": ids, "apply": "yes",
        "note": "Guard sent"})

    assert done.status_code == 302
    assert {(a.status, a.note, a.acknowledged_by) for a in AccessAlarm.objects.all()} == {
        (AlarmStatus.ACKNOWLEDGED, "Guard sent", user)}
    assert AuditEvent.objects.filter(action="access.alarm.acknowledge").count() == 2
    assert client.get("/admin/access/accessevent/").status_code == 200
    assert client.get("/admin/access/accessevent/add/").status_code == 403


def test_the_card_office_does_not_reach_the_security_console() -> None:
    client, _user = console("card_office")

    assert client.get("/admin/access/area/").status_code == 403
    assert client.get("/admin/access/accessalarm/").status_code == 403


@pytest.mark.parametrize("page", [
    "area/", "area/add/", "door/", "schedule/", "schedule/add/", "accessgroup/",
    "accessgroup/add/", "visitorgrant/", "visitorgrant/add/", "lockdown/", "lockdown/add/",
    "accessevent/", "accessalarm/", "controllerlistversion/", "accesslistchange/",
])
def test_every_page_of_the_security_console_opens(officer: tuple[Client, Any],
                                                  page: str) -> None:
    client, _user = officer
    lab = door_controller()

    assert client.get(f"/admin/access/{page}").status_code == 200
    assert client.get(f"/admin/access/door/{lab.terminal_id}-1/change/").status_code == 200
    assert client.get("/admin/core/holiday/add/").status_code == 200
