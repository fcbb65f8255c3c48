"""The counter's money through the API: a clerk's shift and a consumption correction."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import services
from accounts.models import LoadSource, PendingLoad, Posting
from accounts.selectors import ledger_check
from settlement.models import PurchaseRefund
from tests.accounts.scenario import balance
from tests.factories import make_card
from tests.settlement.test_reconcile import accept, chip, kiosk, pos  # noqa: F401 (fixtures)
from tests.terminals.protocol import Chip, SignedTerminal

pytestmark = pytest.mark.django_db


def client_of(user: Any) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api


def test_a_clerk_opens_a_shift_closes_it_short_and_finance_prints_the_report(clerk) -> None:
    api = client_of(clerk)
    opened = api.post("/api/v1/cash/shifts", {}, format="json")
    assert opened.status_code == 201, opened.content
    services.card_top_up(card=make_card(by=clerk), amount=5_000, method="cash", by=clerk)

    closed = api.post(f"/api/v1/cash/shifts/{opened.json()['id']}/close", {"counted": 4_950},
                      format="json")

    assert closed.status_code == 200, closed.content
    assert (closed.json()["expected"], closed.json()["difference"]) == (5_000, -50)
    report = api.get("/api/v1/cash/shifts?format=xlsx")
    sheet = load_workbook(io.BytesIO(report.content)).active
    assert sheet is not None
    assert sheet.cell(row=3, column=1).value == clerk.username
    assert sheet.cell(row=3, column=8).value == -0.5
    again = api.post(f"/api/v1/cash/shifts/{opened.json()['id']}/close", {"counted": 1},
                     format="json")
    assert again.status_code == 409


def test_the_office_refunds_a_purchase_through_the_api(
        clerk: Any, chip: Chip, pos: SignedTerminal) -> None:  # noqa: F811
    accept(pos, chip.purchase(pos, 800))
    api = client_of(clerk)
    path = f"/api/v1/purchases/{pos.terminal_id}/1/refund"

    done = api.post(path, {"amount": 300, "reason": "wrong dish"}, format="json")
    too_much = api.post(path, {"amount": 501, "reason": "again"}, format="json")

    assert done.status_code == 201, done.content
    assert done.json()["load_id"].startswith("L-")
    assert too_much.status_code == 400
    assert too_much.json()["error"]["code"] == "refund_exceeds_purchase"
    assert api.post(path, {"amount": 1, "reason": "x", "extra": 1},
                    format="json").status_code == 400


def test_a_refund_retried_with_its_idempotency_key_refunds_once(
        clerk: Any, chip: Chip, pos: SignedTerminal) -> None:  # noqa: F811
    """The answer to a refund was lost; the console sends it again with the same key."""
    accept(pos, chip.purchase(pos, 800))
    api = client_of(clerk)
    path = f"/api/v1/purchases/{pos.terminal_id}/1/refund"
    body = {"amount": 300, "reason": "wrong dish"}
    payable_before = balance("merchant_payable:C1")

    first = api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="desk-1-0001")
    retry = api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="desk-1-0001")
    reused = api.post(path, {**body, "amount": 200}, format="json",
                      HTTP_IDEMPOTENCY_KEY="desk-1-0001")

    assert first.status_code == 201, first.content
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert retry["Idempotency-Replayed"] == "true"
    assert (reused.status_code, reused.json()["error"]["code"]) == (422, "idempotency_key_reused")
    assert PurchaseRefund.objects.count() == 1
    assert Posting.objects.filter(kind="refund").count() == 1
    assert PendingLoad.objects.filter(source=LoadSource.CORRECTION).count() == 1
    assert balance("merchant_payable:C1") == payable_before - 300
    assert ledger_check() == []
