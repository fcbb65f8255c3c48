"""Races at the counter, with real PostgreSQL connections: many clerks and kiosks acting on
the same card at the same moment must neither deadlock nor lose or create money."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db.models import Sum

from accounts import services
from accounts.errors import ActiveCardExists, InvalidStatus, UidInUse
from accounts.models import (
    LIVE_STATUSES,
    Card,
    CardStatus,
    Entry,
    LedgerAccount,
    LoadSource,
    PendingLoad,
    SubsidyBatch,
)
from accounts.selectors import ledger_check
from tests.accounts.scenario import (
    balance,
    drawer,
    purse,
    terminal_writes_pending_loads,
)
from tests.concurrent import Outcome, run_at_once
from tests.factories import StaffFactory, make_card, make_cardholder, new_uid

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.concurrency,
    pytest.mark.usefixtures("on_postgres"),
]

def unexpected(outcomes: dict[str, Outcome], *allowed: type[BaseException]) -> dict[str, str]:
    return {name: repr(o.error) for name, o in outcomes.items()
            if o.error is not None and not isinstance(o.error, allowed)}


def total_of_all_accounts() -> int:
    return LedgerAccount.objects.aggregate(s=Sum("balance"))["s"] or 0


# --- Top-ups racing a replacement and a cancellation -------------------------------------


def _cancel_the_live_card(holder_id: int, by: Any) -> tuple[str, services.CancelRefund]:
    """The clerk cancels whichever card the holder has in use; if a replacement slips in
    between reading it and locking it, they look again (as a person at the desk would)."""
    for _attempt in range(5):
        card = Card.objects.get(cardholder_id=holder_id, status__in=LIVE_STATUSES)
        try:
            return card.card_no, services.card_cancel(card=card, refund_method="cash", by=by)
        except InvalidStatus:
            continue
    raise AssertionError("the cancellation never found a card to cancel")


@pytest.mark.parametrize("round_no", [1, 2, 3])
def test_top_ups_racing_a_replacement_and_a_cancellation_lose_no_money(
    clerk, finance_user, settings, round_no: int,
) -> None:
    settings.ONECARD_CANCELLATION_FEE = 500
    card = make_card(by=clerk, deposit=2000)
    holder = card.cardholder
    services.card_top_up(card=card, amount=10_000, method="cash", by=clerk)
    terminal_writes_pending_loads(card)
    services.card_top_up(card=card, amount=3_000, method="cash", by=clerk)
    services.subsidy_batch_create(name=f"Meals {round_no}", purse="subsidy", by=finance_user,
                                  entries=[{"cardholder": holder.number, "amount": 1_500}])
    main_before = balance(purse(holder))
    assert main_before == 13_000
    amounts = {f"top-up-{i:02d}": 100 + i for i in range(20)}
    new_uid_for_replacement = new_uid()

    tasks: dict[str, Callable[[], Any]] = {
        name: partial(services.card_top_up, card=card, amount=amount, method="cash", by=clerk)
        for name, amount in amounts.items()
    }
    tasks["replace"] = lambda: services.card_replace(card=card, uid=new_uid_for_replacement,
                                                     by=clerk)
    tasks["cancel"] = lambda: _cancel_the_live_card(holder.pk, clerk)
    outcomes = run_at_once(tasks)

    assert unexpected(outcomes, InvalidStatus) == {}
    assert outcomes["cancel"].ok
    cancelled_no, refund = outcomes["cancel"].value
    credited = sum(amounts[n] for n in amounts if outcomes[n].ok)
    # What the holder's main purse received from top-ups equals the successful top-ups.
    top_up_entries = Entry.objects.filter(
        posting__kind="top_up", account__code=purse(holder)).aggregate(s=Sum("amount"))["s"]
    assert top_up_entries == 13_000 + credited
    assert PendingLoad.objects.filter(
        source=LoadSource.TOP_UP, card__cardholder=holder, transferred_to__isnull=True,
    ).count() == 2 + sum(o.ok for n, o in outcomes.items() if n in amounts)
    # The refund is exactly what the holder had when the card was cancelled.
    assert refund.main == main_before + credited
    assert (refund.subsidy, refund.deposit, refund.fee) == (1_500, 2_000, 500)
    assert refund.total == refund.main + 1_500 + 2_000 - 500
    assert balance(purse(holder)) == 0 and balance(purse(holder, "subsidy")) == 0
    assert balance(drawer(clerk)) == -(2_000 + 13_000 + credited) + refund.total
    assert balance("fee_income") == 500
    assert balance("deposits_held") == 0
    # Exactly one of replace and cancel closed the original card.
    original = Card.objects.get(pk=card.pk)
    if outcomes["replace"].ok:
        assert original.status == CardStatus.REPLACED
        assert cancelled_no == outcomes["replace"].value.card_no
    else:
        assert isinstance(outcomes["replace"].error, InvalidStatus)
        assert original.status == CardStatus.CANCELLED and cancelled_no == card.card_no
    assert not Card.objects.filter(cardholder=holder, status__in=LIVE_STATUSES).exists()
    assert all(Card.objects.filter(cardholder=holder).values_list("blacklisted", flat=True))
    assert total_of_all_accounts() == 0
    assert ledger_check() == []


def test_twenty_parallel_top_ups_on_one_card_add_up_exactly(clerk) -> None:
    card = make_card(by=clerk)
    clerks = [clerk, StaffFactory(username="clerk-zhao", role="card_office")]
    amounts = {f"top-up-{i:02d}": 1_000 + i for i in range(20)}
    methods = ["cash", "bank", "online", "cash"]

    outcomes = run_at_once({
        name: partial(services.card_top_up, card=card, amount=amount, method=methods[i % 4],
                      by=clerks[i % 2])
        for i, (name, amount) in enumerate(amounts.items())
    })

    assert unexpected(outcomes) == {}
    total = sum(amounts.values())
    assert balance(purse(card.cardholder)) == total
    assert PendingLoad.objects.filter(card=card).aggregate(s=Sum("amount"))["s"] == total
    assert PendingLoad.objects.filter(card=card).count() == 20
    assert total_of_all_accounts() == 0
    assert ledger_check() == []


def test_two_clerks_issue_the_same_uid_at_once_and_one_wins(clerk) -> None:
    other_clerk = StaffFactory(username="clerk-zhao", role="card_office")
    first, second = make_cardholder(by=clerk), make_cardholder(by=clerk)

    outcomes = run_at_once({
        "first": lambda: services.card_issue(cardholder=first, uid="04A1B2C3", deposit=1000,
                                             by=clerk),
        "second": lambda: services.card_issue(cardholder=second, uid="04a1b2c3", deposit=1000,
                                              by=other_clerk),
    })

    assert unexpected(outcomes, UidInUse) == {}
    assert sorted(o.ok for o in outcomes.values()) == [False, True]
    assert Card.objects.filter(uid="04a1b2c3").count() == 1
    assert balance("deposits_held") == 1000
    assert ledger_check() == []


def test_two_cards_issued_at_once_to_one_holder_give_one_card(clerk) -> None:
    holder = make_cardholder(by=clerk)

    outcomes = run_at_once({
        "first": lambda: services.card_issue(cardholder=holder, uid=new_uid(), deposit=500,
                                             by=clerk),
        "second": lambda: services.card_issue(cardholder=holder, uid=new_uid(), deposit=500,
                                              by=clerk),
    })

    assert unexpected(outcomes, ActiveCardExists) == {}
    assert sorted(o.ok for o in outcomes.values()) == [False, True]
    assert holder.cards.count() == 1
    assert balance("deposits_held") == 500
    assert ledger_check() == []


def test_the_same_subsidy_batch_sent_twice_at_once_is_granted_once(clerk, finance_user) -> None:
    cards = [make_card(by=clerk) for _ in range(3)]
    entries = [{"cardholder": c.cardholder.number, "amount": 700} for c in cards]

    outcomes = run_at_once({
        name: lambda: services.subsidy_batch_create(name="December", purse="subsidy",
                                                    entries=entries, by=finance_user)
        for name in ("first", "retry")
    })

    assert unexpected(outcomes) == {}
    assert sorted(o.value.created for o in outcomes.values()) == [False, True]
    assert SubsidyBatch.objects.count() == 1
    assert balance("subsidy_fund") == -2100
    assert PendingLoad.objects.filter(source=LoadSource.SUBSIDY).count() == 3
    assert ledger_check() == []
