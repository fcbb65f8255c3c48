"""Finance works the exceptions the nightly run raised (operations-api.md,
"Reconciliation and exceptions"): list them by status and code, close one with a note."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from settlement.models import ExceptionCode, ExceptionStatus, ReconException
from tests.factories import StaffFactory
from tests.settlement.test_reconcile import accept, chip, kiosk, pos, reconcile  # noqa: F401
from tests.terminals.protocol import Chip, SignedTerminal

pytestmark = pytest.mark.django_db

EXCEPTIONS = "/api/v1/exceptions"


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.default_format = "json"
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def resolve_url(exc: ReconException) -> str:
    return f"{EXCEPTIONS}/{exc.pk}/resolve"


@pytest.fixture
def finance(finance_user: Any) -> APIClient:
    return client_for(finance_user)


@pytest.fixture
def night(chip: Chip, pos: SignedTerminal) -> dict[str, ReconException]:  # noqa: F811
    """A night with a clock-skewed sale and a sale after a hole in the terminal's numbers."""
    accept(pos, chip.purchase(pos, 700, ts=int(time.time()) - 2 * 86_400))
    pos.last_seq += 1  # seq 2 never arrives
    accept(pos, chip.purchase(pos, 300))
    reconcile()
    return {e.code: e for e in ReconException.objects.all()}


def test_finance_lists_exceptions_by_status_and_code(
        finance: APIClient, night: dict[str, ReconException]) -> None:
    assert set(night) == {ExceptionCode.CLOCK_SKEW, ExceptionCode.TERMINAL_SEQ_GAP}

    everything = finance.get(EXCEPTIONS)
    skews = finance.get(EXCEPTIONS, {"status": "open", "code": "clock_skew",
                                     "date": timezone.localdate().isoformat()})
    closed = finance.get(EXCEPTIONS, {"status": "resolved"})
    unknown = finance.get(EXCEPTIONS, {"code": "no_such_code"})

    assert everything.status_code == 200, everything.content
    assert {e["code"] for e in everything.json()["results"]} == set(night)
    [skew] = skews.json()["results"]
    assert (skew["id"], skew["status"], skew["card_no"]) == (
        night[ExceptionCode.CLOCK_SKEW].pk, "open", night[ExceptionCode.CLOCK_SKEW].card_no)
    assert closed.json()["results"] == []
    assert unknown.status_code == 400


def test_finance_resolves_an_exception_with_a_note_once(
        finance: APIClient, finance_user: Any, night: dict[str, ReconException]) -> None:
    skew = night[ExceptionCode.CLOCK_SKEW]
    note = "Reader clock was reset after a power cut; sale is genuine."

    answer = finance.post(resolve_url(skew), {"action": "none", "note": note})
    again = finance.post(resolve_url(skew), {"action": "none", "note": note})

    assert answer.status_code == 200, answer.content
    assert (answer.json()["status"], answer.json()["note"]) == ("resolved", note)
    skew.refresh_from_db()
    assert (skew.status, skew.resolved_by, skew.note) == (
        ExceptionStatus.RESOLVED, finance_user, note)
    audit = AuditEvent.objects.get(action="exception.none")
    assert audit.after is not None
    assert (audit.actor, audit.subject_id, audit.after["note"]) == (
        finance_user, str(skew.pk), note)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_status"
    assert [e["code"] for e in finance.get(EXCEPTIONS, {"status": "resolved"})
            .json()["results"]] == ["clock_skew"]


def test_a_write_off_closes_the_exception_as_written_off(
        finance: APIClient, night: dict[str, ReconException]) -> None:
    gap = night[ExceptionCode.TERMINAL_SEQ_GAP]

    answer = finance.post(resolve_url(gap), {"action": "write_off", "note": "Reader lost."})

    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "written_off"


def test_a_bad_action_or_a_missing_note_is_refused(
        finance: APIClient, night: dict[str, ReconException]) -> None:
    skew = night[ExceptionCode.CLOCK_SKEW]

    bad_action = finance.post(resolve_url(skew), {"action": "adjust", "note": "x"})
    no_note = finance.post(resolve_url(skew), {"action": "none"})
    blank_note = finance.post(resolve_url(skew), {"action": "none", "note": "   "})
    missing = finance.post(f"{EXCEPTIONS}/999999999/resolve", {"action": "none", "note": "x"})

    assert [r.status_code for r in (bad_action, no_note, blank_note)] == [400, 400, 400]
    assert missing.status_code == 404
    skew.refresh_from_db()
    assert skew.status == ExceptionStatus.OPEN


def test_the_card_office_may_neither_list_nor_resolve(
        clerk: Any, night: dict[str, ReconException]) -> None:
    desk = client_for(clerk)
    skew = night[ExceptionCode.CLOCK_SKEW]

    listed = desk.get(EXCEPTIONS)
    resolved = desk.post(resolve_url(skew), {"action": "none", "note": "not mine"})

    assert (listed.status_code, resolved.status_code) == (403, 403)
    skew.refresh_from_db()
    assert skew.status == ExceptionStatus.OPEN


def test_the_auditor_reads_but_may_not_resolve(night: dict[str, ReconException]) -> None:
    auditor = client_for(StaffFactory(role="auditor"))

    assert auditor.get(EXCEPTIONS).status_code == 200
    assert auditor.post(resolve_url(night[ExceptionCode.CLOCK_SKEW]),
                        {"action": "none", "note": "x"}).status_code == 403
