"""Finance grants a subsidy batch: one posting from the subsidy fund, one pending load per
holder, all or nothing, and the same batch twice is granted once."""

from __future__ import annotations

from typing import Any

import pytest

from accounts import services
from accounts.errors import (
    BalanceLimitExceeded,
    CardholdersWithoutCard,
    InvalidAmount,
    UnknownCardholders,
)
from accounts.models import (
    AuditEvent,
    Card,
    CardStatus,
    LoadSource,
    LoadStatus,
    PendingLoad,
    Posting,
    SubsidyBatch,
)
from accounts.selectors import card_balances, ledger_check
from core.errors import InvalidRequest
from tests.accounts.scenario import (
    MAX,
    audit_mark,
    audit_since,
    balance,
    fresh,
    in_request,
    purse,
    put_in_status,
    world,
)
from tests.factories import make_card, make_cardholder

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_cards(clerk) -> list[Card]:
    return [make_card(by=clerk) for _ in range(3)]


def entries_for(cards: list[Card], amounts: list[int]) -> list[dict[str, Any]]:
    return [{"cardholder": c.cardholder.number, "amount": a} for c, a in zip(cards, amounts,
                                                                            strict=True)]


def test_a_batch_is_one_posting_from_the_fund_and_one_load_per_holder(
    finance_user, three_cards: list[Card],
) -> None:
    amounts = [20000, 15000, 5000]
    mark = audit_mark()

    result = in_request("req-subsidy-1", lambda: services.subsidy_batch_create(
        name="November meal subsidy", purse="subsidy", by=finance_user,
        entries=entries_for(three_cards, amounts)))

    assert result.created
    batch = result.batch
    assert (batch.count, batch.total, batch.purse) == (3, 40000, "subsidy")
    assert balance("subsidy_fund") == -40000
    entries = dict(batch.posting.entries.values_list("account__code", "amount"))
    assert entries == {
        "subsidy_fund": -40000,
        **{purse(c.cardholder, "subsidy"): a for c, a in zip(three_cards, amounts, strict=True)},
    }
    assert Posting.objects.filter(kind="subsidy").count() == 1
    for card, amount in zip(three_cards, amounts, strict=True):
        (load,) = PendingLoad.objects.filter(card=card)
        assert (load.purse, load.amount, load.source, load.status) == (
            "subsidy", amount, LoadSource.SUBSIDY, LoadStatus.PENDING)
        assert load.subsidy_batch == batch and load.posting == batch.posting
        assert card_balances(fresh(card))["subsidy"] == {
            "account": amount, "card": 0, "pending": amount}
        assert card_balances(fresh(card))["main"]["account"] == 0
    (event,) = audit_since(mark)
    assert event.action == "subsidy.grant" and event.actor == finance_user
    assert event.request_id == "req-subsidy-1"
    assert event.after == {"name": "November meal subsidy", "purse": "subsidy", "count": 3,
                           "total": 40000}
    assert ledger_check() == []


def test_a_subsidy_can_go_to_the_main_purse(finance_user, three_cards: list[Card]) -> None:
    services.subsidy_batch_create(name="Prize", purse="main", by=finance_user,
                                  entries=entries_for(three_cards[:1], [888]))

    assert card_balances(fresh(three_cards[0]))["main"] == {
        "account": 888, "card": 0, "pending": 888}


def test_unknown_holders_reject_the_whole_batch(finance_user, three_cards: list[Card]) -> None:
    entries = [*entries_for(three_cards, [100, 200, 300]),
               {"cardholder": "NOBODY-2", "amount": 100},
               {"cardholder": "NOBODY-1", "amount": 100}]
    before = world()

    with pytest.raises(UnknownCardholders) as exc:
        services.subsidy_batch_create(name="Typo batch", purse="subsidy", by=finance_user,
                                      entries=entries)

    assert exc.value.code == "unknown_cardholders"
    assert exc.value.extra == {"cardholders": ["NOBODY-1", "NOBODY-2"]}
    assert world() == before
    assert not SubsidyBatch.objects.exists()


def test_holders_without_a_card_in_use_reject_the_whole_batch(
    clerk, finance_user, three_cards: list[Card],
) -> None:
    no_card = make_cardholder(by=clerk, number="S-NOCARD")
    cancelled = make_card(by=clerk, cardholder=make_cardholder(by=clerk, number="S-CANCEL"))
    put_in_status(cancelled, CardStatus.CANCELLED, clerk)
    entries = [*entries_for(three_cards, [100, 200, 300]),
               {"cardholder": "S-NOCARD", "amount": 100},
               {"cardholder": "S-CANCEL", "amount": 100}]
    before = world()

    with pytest.raises(CardholdersWithoutCard) as exc:
        services.subsidy_batch_create(name="Meals", purse="subsidy", by=finance_user,
                                      entries=entries)

    assert exc.value.code == "cardholders_without_card"
    assert exc.value.extra == {"cardholders": ["S-CANCEL", "S-NOCARD"]}
    assert no_card.cards.count() == 0
    assert world() == before


@pytest.mark.parametrize("status", [CardStatus.LOST, CardStatus.FROZEN])
def test_a_lost_or_frozen_card_still_gets_the_subsidy(
    clerk, finance_user, status: str,
) -> None:
    card = put_in_status(make_card(by=clerk), status, clerk)

    services.subsidy_batch_create(name="Meals", purse="subsidy", by=finance_user,
                                  entries=entries_for([card], [1000]))

    assert card_balances(fresh(card))["subsidy"] == {"account": 1000, "card": 0, "pending": 1000}
    assert ledger_check() == []


def test_the_same_batch_twice_is_granted_once(finance_user, three_cards: list[Card]) -> None:
    entries = entries_for(three_cards, [100, 200, 300])
    first = services.subsidy_batch_create(name="Meals", purse="subsidy", by=finance_user,
                                          entries=entries)
    before = world()

    again = services.subsidy_batch_create(name="Meals", purse="subsidy", by=finance_user,
                                          entries=list(reversed(entries)))

    assert not again.created
    assert again.batch == first.batch
    assert world() == before
    assert balance("subsidy_fund") == -600


def test_a_batch_with_another_name_is_a_new_grant(finance_user, three_cards: list[Card]) -> None:
    entries = entries_for(three_cards, [100, 200, 300])
    services.subsidy_batch_create(name="October", purse="subsidy", by=finance_user,
                                  entries=entries)

    second = services.subsidy_batch_create(name="November", purse="subsidy", by=finance_user,
                                           entries=entries)

    assert second.created
    assert balance("subsidy_fund") == -1200
    assert PendingLoad.objects.filter(source=LoadSource.SUBSIDY).count() == 6
    assert ledger_check() == []


def test_the_maximum_balance_holds_for_every_holder_in_the_batch(
    clerk, finance_user, three_cards: list[Card],
) -> None:
    services.card_top_up(card=three_cards[1], amount=MAX - 500, purse="subsidy", method="bank",
                         by=clerk)
    before = world()

    with pytest.raises(BalanceLimitExceeded) as exc:
        services.subsidy_batch_create(name="Meals", purse="subsidy", by=finance_user,
                                      entries=entries_for(three_cards, [100, 501, 300]))

    assert exc.value.code == "balance_limit_exceeded"
    assert world() == before
    # Up to the maximum exactly is granted.
    services.subsidy_batch_create(name="Meals", purse="subsidy", by=finance_user,
                                  entries=entries_for(three_cards, [100, 500, 300]))
    assert balance(purse(three_cards[1].cardholder, "subsidy")) == MAX


@pytest.mark.parametrize("amount", [0, -100, 1.5, True])
def test_an_amount_of_zero_or_less_rejects_the_batch(
    finance_user, three_cards: list[Card], amount: Any,
) -> None:
    before = world()

    with pytest.raises(InvalidAmount):
        services.subsidy_batch_create(name="Meals", purse="subsidy", by=finance_user,
                                      entries=entries_for(three_cards, [100, amount, 300]))

    assert world() == before


def test_an_empty_batch_is_refused(finance_user) -> None:
    with pytest.raises(InvalidRequest):
        services.subsidy_batch_create(name="Nothing", purse="subsidy", by=finance_user,
                                      entries=[])

    assert not AuditEvent.objects.filter(action="subsidy.grant").exists()


def test_a_subsidy_follows_the_holder_to_a_replacement_card(
    clerk, finance_user, three_cards: list[Card],
) -> None:
    card = three_cards[0]
    services.subsidy_batch_create(name="Meals", purse="subsidy", by=finance_user,
                                  entries=entries_for([card], [2500]))

    new = services.card_replace(card=card, uid="0a0b0c0d", by=clerk)

    assert card_balances(fresh(new))["subsidy"] == {"account": 2500, "card": 0, "pending": 2500}
    (moved,) = PendingLoad.objects.filter(card=new)
    assert moved.subsidy_batch is not None and moved.source == LoadSource.SUBSIDY
    assert ledger_check() == []
