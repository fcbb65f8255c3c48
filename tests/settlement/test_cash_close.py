"""A clerk's shift: cash taken for top-ups and deposits, paid out for a refund, counted."""

from __future__ import annotations

from typing import Any

import pytest

from accounts import services
from accounts.errors import InvalidStatus
from accounts.selectors import ledger_check
from settlement.cash import shift_close, shift_open
from settlement.errors import ShiftAlreadyOpen
from tests.accounts.scenario import balance
from tests.factories import make_card

pytestmark = pytest.mark.django_db


def a_day_at_the_counter(clerk: Any) -> None:
    card = make_card(by=clerk, deposit=2_000)  # cash in 2,000
    services.card_top_up(card=card, amount=5_000, method="cash", by=clerk)  # cash in 5,000
    services.card_top_up(card=card, amount=9_999, method="bank", by=clerk)  # not cash
    other = make_card(by=clerk, deposit=1_000)  # cash in 1,000
    services.card_cancel(card=other, refund_method="cash", by=clerk)  # cash out 1,000


def test_a_shift_that_counts_right_posts_nothing(clerk: Any) -> None:
    shift = shift_open(clerk=clerk, by=clerk)
    a_day_at_the_counter(clerk)

    closed = shift_close(shift=shift, counted=7_000, by=clerk)

    assert (closed.cash_in, closed.cash_out, closed.expected) == (8_000, 1_000, 7_000)
    assert (closed.difference, closed.posting_id) == (0, None)
    assert ledger_check() == []


def test_a_short_drawer_is_posted_to_suspense_and_reported(clerk: Any) -> None:
    shift = shift_open(clerk=clerk, by=clerk)
    a_day_at_the_counter(clerk)

    closed = shift_close(shift=shift, counted=6_900, by=clerk)

    assert closed.difference == -100 and closed.posting_id is not None
    assert balance(f"cash_drawer:{clerk.pk}") == -6_900  # the drawer now holds what was counted
    assert balance("suspense") == -100  # owed by the clerk until explained
    assert ledger_check() == []


def test_one_open_shift_per_clerk_and_a_shift_closes_once(clerk: Any) -> None:
    shift = shift_open(clerk=clerk, by=clerk)
    with pytest.raises(ShiftAlreadyOpen):
        shift_open(clerk=clerk, by=clerk)
    shift_close(shift=shift, counted=0, by=clerk)
    with pytest.raises(InvalidStatus):
        shift_close(shift=shift, counted=0, by=clerk)
    shift_open(clerk=clerk, by=clerk)  # the next shift
