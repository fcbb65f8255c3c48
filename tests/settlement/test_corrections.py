"""Consumption correction (消费更正): the canteen charged too much, the office gives it back."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.errors import InvalidAmount
from accounts.models import Card, LoadSource, PendingLoad
from accounts.selectors import card_balances, ledger_check
from core.errors import NotFound
from settlement.corrections import purchase_refund
from settlement.errors import RefundExceedsPurchase
from settlement.models import PurchaseRefund
from tests.accounts.scenario import balance
from tests.settlement.test_reconcile import accept, chip, kiosk, pos  # noqa: F401 (fixtures)
from tests.terminals.protocol import Chip, SignedTerminal

pytestmark = pytest.mark.django_db


def test_a_clerk_refunds_part_of_a_purchase_and_the_card_is_owed_it(
        clerk: Any, chip: Chip, pos: SignedTerminal) -> None:  # noqa: F811
    accept(pos, chip.purchase(pos, 1_250))
    payable_before = balance("merchant_payable:C1")

    refund = purchase_refund(terminal_id=pos.terminal_id, terminal_seq=1, amount=250,
                             reason="charged twice for rice", by=clerk)

    assert balance("merchant_payable:C1") == payable_before - 250
    assert card_balances(Card.objects.get(pk=chip.card.pk))["main"] == {
        "account": 10_000 - 1_250 + 250,
        "card": 10_000 - 1_250, "pending": 250}
    load = PendingLoad.objects.get(load_id=refund.load_id)
    assert load.source == LoadSource.CORRECTION and load.amount == 250
    assert ledger_check() == []


def test_a_purchase_cannot_be_refunded_beyond_its_amount(
        clerk: Any, chip: Chip, pos: SignedTerminal) -> None:  # noqa: F811
    accept(pos, chip.purchase(pos, 1_000))
    purchase_refund(terminal_id=pos.terminal_id, terminal_seq=1, amount=600, reason="a",
                    by=clerk)

    with pytest.raises(RefundExceedsPurchase) as refused:
        purchase_refund(terminal_id=pos.terminal_id, terminal_seq=1, amount=401, reason="b",
                        by=clerk)

    assert refused.value.extra["refundable"] == 400
    purchase_refund(terminal_id=pos.terminal_id, terminal_seq=1, amount=400, reason="c",
                    by=clerk)
    assert sum(r.amount for r in PurchaseRefund.objects.all()) == 1_000
    assert ledger_check() == []


def test_only_an_accepted_purchase_can_be_refunded_and_only_by_a_positive_amount(
        clerk: Any, chip: Chip, pos: SignedTerminal) -> None:  # noqa: F811
    accept(pos, chip.purchase(pos, 500))
    with pytest.raises(NotFound):
        purchase_refund(terminal_id=pos.terminal_id, terminal_seq=2, amount=1, reason="x",
                        by=clerk)
    with pytest.raises(InvalidAmount):
        purchase_refund(terminal_id=pos.terminal_id, terminal_seq=1, amount=0, reason="x",
                        by=clerk)
    assert not PurchaseRefund.objects.exists()
