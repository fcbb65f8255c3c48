"""A canteen POS uploads its day: the first end-to-end path through the protocol."""

from __future__ import annotations

import time

import pytest

from accounts import services
from accounts.selectors import card_balances, ledger_check
from terminals.services import terminal_register
from tests.factories import make_card
from tests.terminals.protocol import SignedTerminal, sealed

pytestmark = pytest.mark.django_db


def test_a_pos_uploads_a_purchase_and_the_money_moves(client, clerk, purse_key) -> None:
    card = make_card(by=clerk)
    load = services.card_top_up(card=card, amount=5000, method="cash", by=clerk)
    pos, secret = terminal_register(kind="pos", name="Canteen 1", by=clerk, merchant_code="C1")
    kiosk, ksecret = terminal_register(kind="kiosk", name="Kiosk", by=clerk)
    now = int(time.time())
    k = SignedTerminal(client, kiosk.terminal_id, ksecret)
    answer = k.upload([sealed(card, kiosk.terminal_id, type="load", terminal_seq=1, ts=now,
                              card_seq=1, purse="main", amount=5000, balance_before=0,
                              load_id=load.load_id)])
    assert answer.status_code == 200, answer.content
    assert answer.json()["results"] == [{"terminal_seq": 1, "status": "accepted"}]
    t = SignedTerminal(client, pos.terminal_id, secret)
    record = sealed(card, pos.terminal_id, type="purchase", terminal_seq=1, ts=now, card_seq=2,
                    purse="main", amount=1250, balance_before=5000)

    first = t.upload([record])
    again = t.upload([record])

    assert first.json() == {"results": [{"terminal_seq": 1, "status": "accepted"}],
                            "highest_contiguous_seq": 1}
    assert again.json()["results"] == [{"terminal_seq": 1, "status": "duplicate"}]
    card.refresh_from_db()
    assert card_balances(card)["main"] == {"account": 3750, "card": 3750, "pending": 0}
    assert ledger_check() == []
