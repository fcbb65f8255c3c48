"""Door alarms: a door controller reports `door_held_open` and `door_forced` in its
heartbeats (through the real heartbeat endpoint); each becomes one alarm that a security
officer acknowledges, with who, when and a note, audited. The heartbeat reaches access
through the hook terminals offers (`heartbeat_received`, connected in AccessConfig)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from access.alarms import alarm_acknowledge, fault_door
from access.errors import AlarmAcknowledged
from access.models import AccessAlarm, AlarmKind, AlarmStatus
from accounts.models import AuditEvent
from tests.access.door_records import door_controller, heartbeat
from tests.access.scenario import officer
from tests.factories import StaffFactory
from tests.terminals.protocol import terminal_for

pytestmark = pytest.mark.django_db


def held_open(door: str) -> dict[str, str]:
    return {"code": "door_held_open", "message": door}


def alarms(**filters: Any) -> list[AccessAlarm]:
    return list(AccessAlarm.objects.filter(**filters).order_by("id"))


def test_a_door_held_open_is_one_alarm_until_acknowledged_then_a_new_occurrence_is_new() -> None:
    lab = door_controller(doors=2)

    heartbeat(lab, faults=[held_open("door 2 held open 45 s")])
    heartbeat(lab, faults=[held_open("door 2 held open 105 s")])

    [alarm] = alarms()
    assert (alarm.controller.terminal_id, alarm.door_number, alarm.kind, alarm.status) == (
        lab.terminal_id, 2, AlarmKind.DOOR_HELD_OPEN, AlarmStatus.OPEN)
    assert alarm.message == "door 2 held open 45 s"

    by = officer()
    done = alarm_acknowledge(alarm=alarm, by=by, note="Propped open by a delivery; closed.")

    assert (done.status, done.acknowledged_by, done.note) == (
        AlarmStatus.ACKNOWLEDGED, by, "Propped open by a delivery; closed.")
    assert done.acknowledged_at is not None
    audit = AuditEvent.objects.get(action="access.alarm.acknowledge")
    assert audit.after is not None
    assert (audit.actor, audit.subject_id, audit.after["note"]) == (
        by, str(alarm.pk), "Propped open by a delivery; closed.")

    heartbeat(lab, faults=[held_open("door 2 held open 165 s")])  # the same occurrence
    assert len(alarms()) == 1
    heartbeat(lab)  # closed
    heartbeat(lab, faults=[held_open("door 2")])  # open again: a new alarm

    assert [(a.door_number, a.status) for a in alarms()] == [
        (2, AlarmStatus.ACKNOWLEDGED), (2, AlarmStatus.OPEN)]


def test_each_door_and_kind_is_its_own_alarm() -> None:
    gate = door_controller(doors=4)

    heartbeat(gate, faults=[held_open("1"), {"code": "door_forced", "message": "Door #1"},
                            {"code": "door_forced", "message": "door 3 forced"},
                            {"code": "door_forced", "message": "forced"},
                            {"code": "printer_paper_out", "message": "door 4"}])

    assert sorted((a.kind, a.door_number or 0) for a in alarms()) == [
        (AlarmKind.DOOR_FORCED, 0), (AlarmKind.DOOR_FORCED, 1), (AlarmKind.DOOR_FORCED, 3),
        (AlarmKind.DOOR_HELD_OPEN, 1)]


def test_the_database_holds_one_open_alarm_per_controller_door_and_kind() -> None:
    gate = door_controller(doors=2)
    heartbeat(gate, faults=[held_open("door 2"), {"code": "door_forced", "message": "forced"}])
    on_door, on_controller = alarms(kind=AlarmKind.DOOR_HELD_OPEN) + alarms(
        kind=AlarmKind.DOOR_FORCED)
    assert (on_door.door_number, on_controller.door_number) == (2, None)

    def another(like: AccessAlarm) -> AccessAlarm:
        return AccessAlarm.objects.create(controller=like.controller, kind=like.kind,
                                          door_number=like.door_number, raised_at=timezone.now())

    for open_one in (on_door, on_controller):  # a NULL door is one value too
        with pytest.raises(IntegrityError), transaction.atomic():
            another(open_one)

    alarm_acknowledge(alarm=on_door, by=officer())
    again = another(on_door)  # the acknowledged one no longer counts
    assert [a.status for a in alarms(kind=AlarmKind.DOOR_HELD_OPEN)] == [
        AlarmStatus.ACKNOWLEDGED, again.status]


def test_acknowledging_twice_is_refused() -> None:
    lab = door_controller()
    heartbeat(lab, faults=[{"code": "door_forced", "message": "door 1"}])
    [alarm] = alarms()
    alarm_acknowledge(alarm=alarm, by=officer())

    with pytest.raises(AlarmAcknowledged) as refused:
        alarm_acknowledge(alarm=alarm, by=StaffFactory(role="security"), note="me too")

    assert (refused.value.code, refused.value.status) == ("alarm_already_acknowledged", 409)
    alarm.refresh_from_db()
    assert alarm.note == ""
    assert AuditEvent.objects.filter(action="access.alarm.acknowledge").count() == 1


def test_only_door_controllers_raise_door_alarms() -> None:
    kiosk = terminal_for(Client(), "kiosk", by=StaffFactory(role="admin"))

    heartbeat(kiosk, faults=[held_open("door 1")])

    assert alarms() == []


@pytest.mark.parametrize(("message", "doors", "door"), [
    ("door 2", 2, 2), ("DOOR 2 held open", 2, 2), ("Door #2", 2, 2), ("door no. 2", 2, 2),
    (" 2 ", 2, 2), ("door 3", 2, None), ("door 0", 2, None), ("held open 40 s", 2, None),
    ("", 2, None), ("door 99999999", 2, None),
])
def test_the_door_number_is_read_from_the_message(message: str, doors: int,
                                                   door: int | None) -> None:
    assert fault_door(message, doors) == door
