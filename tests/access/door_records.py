"""Door controllers played over the real terminal protocol for the event, alarm and report
tests: registered with their doors, uploading signed `door` records and heartbeats."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.test import Client

from access.models import ControllerListVersion
from terminals.signals import records_accepted
from tests.factories import StaffFactory
from tests.terminals.protocol import SignedTerminal, terminal_for

HEARTBEAT = "/api/v1/terminal/heartbeat"


def door_controller(doors: int = 2, name: str = "Lab block") -> SignedTerminal:
    return terminal_for(Client(), "door", by=StaffFactory(role="admin"), name=name, doors=doors)


def passage(ctrl: SignedTerminal, card_no: str, door: int, ts: int, *,
            result: str = "granted", reason: str | None = None,
            direction: str | None = None) -> dict[str, Any]:
    """One `door` record as the controller keeps it, numbered by the controller."""
    record: dict[str, Any] = {"type": "door", "terminal_seq": ctrl.next_seq(), "ts": ts,
                              "card_no": card_no, "door": door, "result": result,
                              "reason": reason}
    if direction is not None:
        record["direction"] = direction
    return record


def upload(ctrl: SignedTerminal, *records: dict[str, Any]) -> None:
    answer = ctrl.upload(list(records))
    assert answer.status_code == 200, answer.content
    assert [r["status"] for r in answer.json()["results"]] == ["accepted"] * len(records)


def heartbeat(ctrl: SignedTerminal, access_list_version: int = 0,
              faults: list[dict[str, str]] | None = None) -> None:
    answer = ctrl.post(HEARTBEAT, {"ts": int(time.time()), "last_seq": ctrl.last_seq,
                                   "access_list_version": access_list_version,
                                   "faults": faults or []})
    assert answer.status_code == 200, answer.content


def list_version(ctrl: SignedTerminal) -> int:
    return ControllerListVersion.objects.get(controller__terminal_id=ctrl.terminal_id).version


def later(seconds: int = 5) -> int:
    """A time at the door safely after everything the server has stamped so far."""
    return int(time.time()) + seconds


@contextmanager
def records_stored_without_events() -> Iterator[None]:
    """Uploads whose door records get no event at ingest (as records stored before access
    control existed): the catch-up, access.events.door_records_project_pending, makes them."""
    from access import receivers

    records_accepted.disconnect(receivers.on_records_accepted,
                                dispatch_uid="access.records_accepted")
    try:
        yield
    finally:
        records_accepted.connect(receivers.on_records_accepted,
                                 dispatch_uid="access.records_accepted")

