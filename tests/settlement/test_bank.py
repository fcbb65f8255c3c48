"""Bank transfers (圈存, operations-api.md "Bank transfers"): the bank's gateway reports
each transfer, the holder's purse is credited at once and the money waits for the card as
a pending load; the next day finance uploads the bank's statement, and a transfer on one
side only (单边账) becomes an exception that resolves itself once the other side matches."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Card, Cardholder, LedgerAccount, PendingLoad
from accounts.services import card_cancel
from settlement.models import (
    BankStatementLine,
    BankTransfer,
    ExceptionCode,
    ExceptionStatus,
    ReconException,
)
from tests.accounts.api.conftest import client_for, code_of
from tests.factories import StaffFactory, make_card, make_cardholder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_postgres")]

TRANSFERS = "/api/v1/bank/transfers"
STATEMENTS = "/api/v1/bank/statements"
HEADER = "bank_ref,cardholder,amount,ts\n"


def transfer(ref: str = "B20261101-000123", holder: str = "S2026001", amount: int = 5000,
             ts: str = "2026-11-01T09:30:00+08:00") -> dict[str, Any]:
    return {"bank_ref": ref, "cardholder": holder, "amount": amount, "ts": ts}


def statement(*lines: str, name: str = "stmt-20261101.csv") -> dict[str, Any]:
    body = (HEADER + "".join(line + "\n" for line in lines)).encode()
    return {"file": SimpleUploadedFile(name, body, content_type="text/csv")}


def upload(client: APIClient, *lines: str, name: str = "stmt-20261101.csv") -> Any:
    return client.post(STATEMENTS, statement(*lines, name=name), format="multipart")


def balance(code: str) -> int:
    account = LedgerAccount.objects.filter(code=code).first()
    return account.balance if account else 0


def exception(key: str) -> ReconException:
    return ReconException.objects.get(key=key)


@pytest.fixture
def bank() -> APIClient:
    """The bank's gateway, holding a token of role `bank`."""
    return client_for(StaffFactory(username="bank-gateway", role="bank"))


@pytest.fixture
def finance(finance_user: Any) -> APIClient:
    return client_for(finance_user)


@pytest.fixture
def holder(clerk: Any) -> Cardholder:
    return make_cardholder(by=clerk, number="S2026001", name="Zhang San")


@pytest.fixture
def card(clerk: Any, holder: Cardholder) -> Card:
    return make_card(by=clerk, cardholder=holder, uid="04a1b2c3")


def test_the_bank_reports_a_transfer_and_the_money_waits_for_the_card(
        bank: APIClient, card: Card) -> None:
    answer = bank.post(TRANSFERS, transfer())

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["bank_ref"], body["cardholder"], body["amount"], body["card_no"]) == (
        "B20261101-000123", "S2026001", 5000, card.card_no)
    load = PendingLoad.objects.get(load_id=body["load"]["load_id"])
    assert (load.card_id, load.amount, load.status, load.method, load.reference) == (
        card.pk, 5000, "pending", "bank", "B20261101-000123")
    assert balance("purse_main:S2026001") == 5000
    assert balance("bank_clearing") == -5000
    assert BankTransfer.objects.get().load_id == load.load_id
    assert AuditEvent.objects.filter(action="bank.transfer", subject_id="B20261101-000123",
                                     actor__username="bank-gateway").exists()


def test_the_same_transfer_again_answers_the_same_load_and_moves_nothing(
        bank: APIClient, card: Card) -> None:
    first = bank.post(TRANSFERS, transfer())

    again = bank.post(TRANSFERS, transfer(ts="2026-11-01T01:30:00Z"))  # same instant

    assert again.status_code == 200, again.content
    assert again.json()["load"]["load_id"] == first.json()["load"]["load_id"]
    assert (PendingLoad.objects.count(), BankTransfer.objects.count()) == (1, 1)
    assert balance("purse_main:S2026001") == 5000


def test_the_same_bank_ref_with_other_content_is_a_conflict(bank: APIClient, card: Card) -> None:
    bank.post(TRANSFERS, transfer())

    answer = bank.post(TRANSFERS, transfer(amount=6000))

    assert answer.status_code == 409
    assert code_of(answer) == "bank_ref_conflict"
    assert balance("purse_main:S2026001") == 5000


def test_transfers_the_bank_cannot_make(bank: APIClient, clerk: Any, card: Card) -> None:
    unknown = bank.post(TRANSFERS, transfer(holder="S0000000"))
    zero = bank.post(TRANSFERS, transfer(amount=0))
    naive = bank.post(TRANSFERS, transfer(ts="2026-11-01T09:30:00"))
    nobody_without_card = make_cardholder(by=clerk, number="S2026002")
    no_card = bank.post(TRANSFERS, transfer(holder=nobody_without_card.number))
    card_cancel(card=card, refund_method="cash", by=clerk)
    cancelled = bank.post(TRANSFERS, transfer(ref="B2"))

    assert (unknown.status_code, code_of(unknown)) == (400, "unknown_cardholder")
    assert (zero.status_code, code_of(zero)) == (400, "invalid_amount")
    assert naive.status_code == 400
    assert (no_card.status_code, code_of(no_card)) == (409, "no_card_in_use")
    assert (cancelled.status_code, code_of(cancelled)) == (409, "no_card_in_use")
    assert not BankTransfer.objects.exists()
    assert not PendingLoad.objects.filter(method="bank").exists()


def test_a_statement_that_matches_everything_raises_nothing(
        bank: APIClient, finance: APIClient, card: Card) -> None:
    bank.post(TRANSFERS, transfer("B1", ts="2026-11-01T09:30:00+08:00"))
    bank.post(TRANSFERS, transfer("B2", amount=1200, ts="2026-11-01T18:00:00+08:00"))

    answer = upload(finance, "B1,S2026001,5000,2026-11-01T09:30:00+08:00",
                    "B2,S2026001,1200,2026-11-01T10:00:00Z")

    assert answer.status_code == 200, answer.content
    assert answer.json() | {"filename": None} == {
        "filename": None, "lines": 2, "stored": 2, "skipped": 0, "matched": 2,
        "bank_only": [], "onecard_only": [], "resolved": []}
    assert not ReconException.objects.exists()
    assert BankStatementLine.objects.count() == 2


def test_a_line_the_gateway_never_reported_is_bank_only_until_the_transfer_arrives(
        bank: APIClient, finance: APIClient, card: Card) -> None:
    answer = upload(finance, "B7,S2026001,3000,2026-11-01T23:30:00+08:00")

    assert answer.json()["bank_only"] == ["B7"]
    raised = exception("bank_only:B7")
    assert (raised.code, raised.status, str(raised.business_date)) == (
        ExceptionCode.BANK_ONLY, ExceptionStatus.OPEN, "2026-11-01")
    assert raised.detail["amount"] == 3000

    late = bank.post(TRANSFERS, transfer("B7", amount=3000, ts="2026-11-01T23:30:00+08:00"))

    assert late.status_code == 201
    raised.refresh_from_db()
    assert raised.status == ExceptionStatus.RESOLVED
    assert raised.note.startswith("Resolved by itself")
    assert balance("purse_main:S2026001") == 3000


def test_a_transfer_missing_from_the_statement_is_onecard_only_until_a_later_one_lists_it(
        bank: APIClient, finance: APIClient, card: Card) -> None:
    bank.post(TRANSFERS, transfer("B1", ts="2026-11-01T09:30:00+08:00"))
    bank.post(TRANSFERS, transfer("B2", amount=800, ts="2026-11-01T20:00:00+08:00"))
    bank.post(TRANSFERS, transfer("B3", amount=900, ts="2026-11-03T08:00:00+08:00"))

    first = upload(finance, "B1,S2026001,5000,2026-11-01T09:30:00+08:00")

    assert first.json()["onecard_only"] == ["B2"]  # B3 is after the statement's dates
    raised = exception("onecard_only:B2")
    assert (raised.status, str(raised.business_date)) == (ExceptionStatus.OPEN, "2026-11-01")
    assert not ReconException.objects.filter(key="onecard_only:B3").exists()

    later = upload(finance, "B1,S2026001,5000,2026-11-01T09:30:00+08:00",
                   "B2,S2026001,800,2026-11-01T20:00:00+08:00", name="stmt-corrected.csv")

    assert later.status_code == 200, later.content
    assert (later.json()["stored"], later.json()["skipped"]) == (1, 1)
    assert later.json()["resolved"] == ["onecard_only:B2"]
    raised.refresh_from_db()
    assert raised.status == ExceptionStatus.RESOLVED
    assert raised.note.startswith("Resolved by itself")


def test_a_malformed_statement_is_refused_whole_with_its_lines(
        bank: APIClient, finance: APIClient, card: Card) -> None:
    bank.post(TRANSFERS, transfer("B1"))

    answer = upload(finance, "B1,S2026001,5000,2026-11-01T09:30:00+08:00",
                    "B2,S2026001,12.50,2026-11-01T10:00:00+08:00",
                    "B3,S2026001,100,yesterday",
                    "B4,S2026001",
                    "B1,S2026001,5000,2026-11-01T09:30:00+08:00")

    assert answer.status_code == 400
    assert code_of(answer) == "invalid_statement"
    assert [e["line"] for e in answer.json()["error"]["errors"]] == [3, 4, 5, 6]
    assert not BankStatementLine.objects.exists()
    assert not ReconException.objects.exists()


def test_a_statement_without_the_columns_is_refused(finance: APIClient) -> None:
    upload_ = SimpleUploadedFile("s.csv", b"bank_ref,amount\nB1,100\n")

    answer = finance.post(STATEMENTS, {"file": upload_}, format="multipart")

    assert (answer.status_code, code_of(answer)) == (400, "invalid_statement")
    assert answer.json()["error"]["errors"][0]["line"] == 1


def test_a_line_uploaded_again_with_other_content_refuses_the_file(
        finance: APIClient, card: Card) -> None:
    upload(finance, "B1,S2026001,5000,2026-11-01T09:30:00+08:00")

    answer = upload(finance, "B9,S2026001,100,2026-11-01T09:00:00+08:00",
                    "B1,S2026001,4000,2026-11-01T09:30:00+08:00", name="again.csv")

    assert (answer.status_code, code_of(answer)) == (400, "invalid_statement")
    assert [e["line"] for e in answer.json()["error"]["errors"]] == [3]
    assert list(BankStatementLine.objects.values_list("bank_ref", flat=True)) == ["B1"]
    assert set(ReconException.objects.values_list("key", flat=True)) == {"bank_only:B1"}


@pytest.mark.parametrize(("role", "path", "allowed"), [
    ("card_office", TRANSFERS, False), ("card_office", STATEMENTS, False),
    ("bank", STATEMENTS, False), ("finance", TRANSFERS, False), ("auditor", TRANSFERS, False),
    ("auditor", STATEMENTS, False), ("admin", TRANSFERS, True), ("admin", STATEMENTS, True),
])
def test_only_the_bank_reports_transfers_and_only_finance_uploads_statements(
        card: Card, role: str, path: str, allowed: bool) -> None:
    client = client_for(StaffFactory(role=role))

    if path == TRANSFERS:
        answer = client.post(path, transfer())
    else:
        answer = upload(client, "B1,S2026001,5000,2026-11-01T09:30:00+08:00")

    if allowed:
        assert answer.status_code in (200, 201), answer.content
    else:
        assert (answer.status_code, code_of(answer)) == (403, "forbidden")
