"""Door alarms from controller heartbeats, and their acknowledgement by security.

A door controller reports its open faults in every heartbeat (terminal-protocol.md §5);
`door_held_open` and `door_forced` carry the door number in their `message` ("door 2",
or just "2"). Each becomes an alarm, one open alarm per controller, door and kind: the
same fault reported again while its alarm is open adds nothing. Once security has
acknowledged it, the fault still reported heartbeat after heartbeat is the same
occurrence (no new alarm); reported again after a heartbeat without it, it is a new one.
A door number the message does not give, or the controller does not have, leaves the
alarm on the controller as a whole (door_number null)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from access.errors import AlarmAcknowledged
from access.models import AccessAlarm, AlarmKind, AlarmStatus
from accounts.audit import audit_record
from terminals.models import Terminal, TerminalKind
from terminals.selectors import terminal_locked

_DOOR_WORD = re.compile(r"\bdoor\s*(?:no\.?|#)?\s*(\d{1,5})\b", re.IGNORECASE)
_NUMBER_ONLY = re.compile(r"^\s*(\d{1,5})\s*$")

Occurrence = tuple[str, int | None]  # (kind, door number)


def fault_door(message: str, doors: int) -> int | None:
    """The door a fault's message names, if the controller has it."""
    found = _DOOR_WORD.search(message) or _NUMBER_ONLY.match(message)
    number = int(found.group(1)) if found else None
    return number if number is not None and 1 <= number <= doors else None


def _occurrences(controller: Terminal,
                 faults: Iterable[Mapping[str, Any]]) -> dict[Occurrence, str]:
    """The door alarms among the faults, each with its message (the first one given)."""
    found: dict[Occurrence, str] = {}
    for fault in faults:
        if not isinstance(fault, Mapping) or fault.get("code") not in AlarmKind.values:
            continue
        message = str(fault.get("message") or "")[:255]
        found.setdefault((str(fault["code"]), fault_door(message, controller.doors)), message)
    return found


@transaction.atomic
def controller_faults_record(*, controller: Terminal, faults: Iterable[Mapping[str, Any]],
                             at: dt.datetime,
                             previous: Iterable[Mapping[str, Any]] = ()) -> list[AccessAlarm]:
    """The alarms a heartbeat's `faults` raise (new ones only). `previous` is what the
    controller's heartbeat before this one reported: a fault in both continues the same
    occurrence, and raises nothing again once its alarm was acknowledged."""
    if controller.kind != TerminalKind.DOOR:
        return []
    now = _occurrences(controller, faults)
    if not now:
        return []
    before = _occurrences(controller, previous)
    # The controller's row lock (the heartbeat's own transaction holds it already) makes
    # two heartbeats of one controller raise one alarm, not two.
    terminal_locked(controller)
    alarms = (AccessAlarm.objects.filter(controller=controller,
                                         kind__in=[kind for kind, _door in now])
              .order_by("-raised_at", "-id"))
    latest: dict[Occurrence, AccessAlarm] = {}
    still_open: set[Occurrence] = set()  # at most one each (access_alarm_one_open)
    for alarm in alarms:
        latest.setdefault((alarm.kind, alarm.door_number), alarm)
        if alarm.status == AlarmStatus.OPEN:
            still_open.add((alarm.kind, alarm.door_number))
    raised = []
    for key, message in now.items():
        if key in still_open or (key in latest and key in before):
            continue
        raised.append(AccessAlarm.objects.create(
            controller=controller, door_number=key[1], kind=key[0], message=message,
            raised_at=at))
    return raised


def alarm_acknowledge(*, alarm: AccessAlarm, by: Any, note: str = "",
                      channel: str = "api") -> AccessAlarm:
    """Security has seen the alarm: who, when and a note, audited; only once."""
    with transaction.atomic():
        alarm = AccessAlarm.objects.select_for_update().select_related("controller").get(
            pk=alarm.pk)
        if alarm.status != AlarmStatus.OPEN:
            raise AlarmAcknowledged()
        alarm.status = AlarmStatus.ACKNOWLEDGED
        alarm.acknowledged_by = by if getattr(by, "pk", None) else None
        alarm.acknowledged_at = timezone.now()
        alarm.note = note[:255]
        alarm.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "note"])
        audit_record(action="access.alarm.acknowledge", actor=by, subject=alarm,
                     before={"status": AlarmStatus.OPEN},
                     after={"status": alarm.status, "controller": alarm.controller.terminal_id,
                            "door": alarm.door_number, "kind": alarm.kind, "note": alarm.note},
                     channel=channel)
    return alarm
