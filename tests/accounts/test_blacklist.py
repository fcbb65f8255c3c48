"""The blacklist terminals download: gapless versions, and deltas that fold to the full list."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import services
from accounts.errors import InvalidStatus
from accounts.models import BlacklistVersion, Card, CardStatus
from accounts.selectors import blacklist_delta, blacklist_full, blacklist_version
from tests.accounts.scenario import perform, put_in_status
from tests.concurrent import run_at_once
from tests.factories import make_card

pytestmark = pytest.mark.django_db


def versions() -> list[int]:
    return list(BlacklistVersion.objects.order_by("version").values_list("version", flat=True))


def apply(listed: set[str], delta: Any) -> set[str]:
    """What a terminal does with an answer: replace on a full list, else fold the delta."""
    if delta.full:
        return set(delta.add)
    return (listed - set(delta.remove)) | set(delta.add)


def test_each_change_of_listing_is_the_next_version(clerk) -> None:
    a, b = make_card(by=clerk), make_card(by=clerk)

    services.card_report_loss(card=a, by=clerk)       # a added: 1
    services.card_unlock(card=a, by=clerk)            # a removed: 2
    services.card_freeze(card=b, by=clerk)            # b added: 3
    services.card_report_loss(card=b, by=clerk)       # b stays listed: no version
    services.card_replace(card=b, uid="0a0b0c0d", by=clerk)  # still listed: no version
    services.card_cancel(card=a, refund_method="cash", by=clerk)  # a added: 4

    assert versions() == [1, 2, 3, 4]
    assert blacklist_version() == 4
    rows = list(BlacklistVersion.objects.order_by("version").values_list("card_no", "action",
                                                                         "reason"))
    assert rows == [(a.card_no, "add", "report_loss"), (a.card_no, "remove", "unlock"),
                    (b.card_no, "add", "freeze"), (a.card_no, "add", "cancel")]


def test_a_rolled_back_listing_leaves_no_gap(clerk) -> None:
    a, b = make_card(by=clerk), make_card(by=clerk)
    services.card_report_loss(card=a, by=clerk)

    with pytest.raises(RuntimeError), transaction.atomic():
        services.card_report_loss(card=b, by=clerk)
        assert blacklist_version() == 2
        raise RuntimeError("the surrounding work failed")

    assert blacklist_version() == 1
    services.card_freeze(card=b, by=clerk)
    assert versions() == [1, 2]
    assert Card.objects.get(pk=b.pk).status == CardStatus.FROZEN


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_a_listing_rolled_back_while_another_waits_leaves_no_gap(clerk) -> None:
    first, doomed_card, waiting_card = (make_card(by=clerk) for _ in range(3))
    services.card_report_loss(card=first, by=clerk)  # version 1

    def doomed() -> None:
        with transaction.atomic():
            services.card_report_loss(card=doomed_card, by=clerk)  # takes version 2 ...
            time.sleep(0.5)  # ... and holds the counter while the other one waits
            raise RuntimeError("the surrounding work failed")

    def waiting() -> Card:
        time.sleep(0.1)
        return services.card_report_loss(card=waiting_card, by=clerk)

    outcomes = run_at_once({"doomed": doomed, "waiting": waiting})

    assert isinstance(outcomes["doomed"].error, RuntimeError)
    assert outcomes["waiting"].ok
    assert versions() == [1, 2]
    assert BlacklistVersion.objects.get(version=2).card_no == waiting_card.card_no
    assert blacklist_full().add == sorted([first.card_no, waiting_card.card_no])


def test_a_refused_action_takes_no_version(clerk) -> None:
    card = make_card(by=clerk)
    services.card_report_loss(card=card, by=clerk)

    with pytest.raises(InvalidStatus):
        services.card_freeze(card=card, by=clerk)

    assert versions() == [1]


def test_a_delta_folds_each_cards_changes_to_its_last_state(clerk) -> None:
    listed_before, a, b, c = (make_card(by=clerk) for _ in range(4))
    services.card_report_loss(card=listed_before, by=clerk)
    since = blacklist_version()
    services.card_report_loss(card=a, by=clerk)
    services.card_unlock(card=a, by=clerk)
    services.card_report_loss(card=a, by=clerk)   # a: add, remove, add -> add
    services.card_freeze(card=b, by=clerk)
    services.card_unfreeze(card=b, by=clerk)      # b: add, remove -> remove
    services.card_unlock(card=listed_before, by=clerk)  # -> remove
    services.card_freeze(card=c, by=clerk)        # c: add

    delta = blacklist_delta(since)

    assert not delta.full
    assert delta.version == blacklist_version() == since + 7
    assert delta.add == sorted([a.card_no, c.card_no])
    assert delta.remove == sorted([b.card_no, listed_before.card_no])
    assert apply({listed_before.card_no}, delta) == set(blacklist_full().add)


def test_since_zero_or_ahead_of_the_server_gives_the_full_list(clerk) -> None:
    a, b = make_card(by=clerk), make_card(by=clerk)
    services.card_report_loss(card=a, by=clerk)
    services.card_freeze(card=b, by=clerk)
    full = blacklist_full()

    for since in (0, -3, 3, 99):
        answer = blacklist_delta(since)
        assert answer.full and answer.version == 2
        assert answer.add == full.add == sorted([a.card_no, b.card_no])
        assert answer.remove == []


def test_since_the_current_version_is_an_empty_delta(clerk) -> None:
    services.card_report_loss(card=make_card(by=clerk), by=clerk)

    answer = blacklist_delta(1)

    assert answer.as_dict() == {"version": 1, "full": False, "add": [], "remove": []}


def test_an_empty_blacklist_is_version_zero() -> None:
    assert blacklist_full().as_dict() == {"version": 0, "full": True, "add": [], "remove": []}


def test_a_terminal_behind_the_retained_history_gets_the_full_list(clerk) -> None:
    cards = [make_card(by=clerk) for _ in range(3)]
    for card in cards:
        services.card_report_loss(card=card, by=clerk)
    BlacklistVersion.objects.filter(version__lte=2).delete()  # history pruned

    assert blacklist_delta(1).full
    assert blacklist_delta(1).add == sorted(c.card_no for c in cards)
    assert not blacklist_delta(2).full  # 3 is still there: the delta since 2 is whole
    assert blacklist_delta(2).add == [cards[2].card_no]


# --- Property: any delta applied to the list it was taken from gives today's list ----------

ACTIONS = ["report_loss", "unlock", "freeze", "unfreeze", "replace", "cancel"]


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.integers(0, 15), st.sampled_from(ACTIONS)),
                      min_size=1, max_size=20))
def test_every_delta_applied_to_its_list_gives_the_current_list(
    clerk, steps: list[tuple[int, str]],
) -> None:
    # Each example runs in its own savepoint, rolled back at the end: a clean start.
    with transaction.atomic():
        cards = [make_card(by=clerk) for _ in range(3)]
        seen = {blacklist_version(): set(blacklist_full().add)}
        for pick, action in steps:
            card = Card.objects.get(pk=cards[pick % len(cards)].pk)
            try:
                result = perform(action, card, clerk)
            except InvalidStatus:
                continue
            if action == "replace":
                cards.append(result)
            full = blacklist_full()
            seen[full.version] = set(full.add)
        now = blacklist_full()
        for version, listed in seen.items():
            assert apply(listed, blacklist_delta(version)) == set(now.add), version
        assert set(now.add) == set(Card.objects.filter(
            status__in=[CardStatus.LOST, CardStatus.FROZEN, CardStatus.REPLACED,
                        CardStatus.CANCELLED]).values_list("card_no", flat=True))
        assert versions() == list(range(1, now.version + 1))
        transaction.set_rollback(True)


def test_put_in_status_reaches_each_blacklisted_status(clerk) -> None:
    for status in (CardStatus.LOST, CardStatus.FROZEN, CardStatus.REPLACED,
                   CardStatus.CANCELLED, CardStatus.EXPIRED):
        assert put_in_status(make_card(by=clerk), status, clerk).blacklisted
