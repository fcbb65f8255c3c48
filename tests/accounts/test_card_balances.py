"""What the card office sees of a card's money after a top-up: the holder's account,
what is on the card, and what waits to be written to it, read in one round trip."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services
from accounts.selectors import card_balances
from tests.factories import make_card

pytestmark = pytest.mark.django_db


def test_a_top_up_waits_for_the_card_and_is_already_in_the_account(clerk):
    card = make_card(by=clerk)
    services.card_top_up(card=card, amount=5_000, method="cash", by=clerk)
    services.card_top_up(card=card, amount=1_200, purse="subsidy", method="cash", by=clerk)
    with CaptureQueriesContext(connection) as queries:
        balances = card_balances(card)
    assert balances == {"main": {"account": 5_000, "card": 0, "pending": 5_000},
                        "subsidy": {"account": 1_200, "card": 0, "pending": 1_200}}
    assert len(queries.captured_queries) == 1


def test_a_replaced_card_shows_no_account_money_the_new_card_does(clerk):
    """The money follows the holder: once the card is replaced, the account's balance
    is shown on the new card, not on the old one."""
    old = make_card(by=clerk)
    services.card_top_up(card=old, amount=5_000, method="cash", by=clerk)
    services.card_report_loss(card=old, by=clerk)
    new = services.card_replace(card=old, uid="04a1b2c3d4e5f6", by=clerk)
    old.refresh_from_db()
    assert card_balances(old)["main"]["account"] == 0
    assert card_balances(new)["main"]["account"] == 5_000
