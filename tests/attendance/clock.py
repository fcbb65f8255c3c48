"""Attendance clocks played over the real terminal protocol for the attendance tests:
registered as `attendance` terminals, uploading signed `punch` records, sometimes days
late; and the HR office's set-up through attendance.services."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.test import Client

from accounts.models import Card
from attendance import compute
from attendance.models import DayResult
from tests.factories import StaffFactory
from tests.terminals.protocol import SignedTerminal, terminal_for


def local(day: str, hm: str) -> dt.datetime:
    """A moment on the institution's clock: local("2026-11-02", "08:28")."""
    return dt.datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=ZoneInfo(settings.TIME_ZONE))


def attendance_clock(name: str = "Workshop clock") -> SignedTerminal:
    return terminal_for(Client(), "attendance", by=StaffFactory(role="admin"), name=name)


def punch(clock: SignedTerminal, card: Card | str, at: dt.datetime) -> dict[str, Any]:
    """One `punch` record as the clock keeps it, numbered by the clock."""
    return {"type": "punch", "terminal_seq": clock.next_seq(), "ts": int(at.timestamp()),
            "card_no": card if isinstance(card, str) else card.card_no}


def upload(clock: SignedTerminal, *records: dict[str, Any]) -> None:
    answer = clock.upload(list(records))
    assert answer.status_code == 200, answer.content
    assert [r["status"] for r in answer.json()["results"]] == ["accepted"] * len(records), \
        answer.json()


def task_runs() -> int:
    """What the django-q2 worker does after an upload has committed."""
    return compute.pending_days_compute()


def result(holder: Any, day: str) -> DayResult:
    return DayResult.objects.get(cardholder=holder, date=dt.date.fromisoformat(day))
