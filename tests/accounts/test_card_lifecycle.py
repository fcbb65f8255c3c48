"""A day at the card office: register, issue, top up, lose, find, freeze, replace, cancel.

Each scenario checks what a clerk or an auditor would: balances per account, the card's
status and listing, the error code, and the audit row with who did it and the request id.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone

from accounts import services
from accounts.errors import (
    ActiveCardExists,
    BalanceLimitExceeded,
    InvalidAmount,
    InvalidStatus,
    UidInUse,
)
from accounts.models import (
    CARD_TRANSITIONS,
    LIVE_STATUSES,
    AuditEvent,
    BlacklistVersion,
    Card,
    CardStatus,
    LoadSource,
    LoadStatus,
    PendingLoad,
    Posting,
)
from accounts.selectors import blacklist_full, blacklist_version, card_balances, ledger_check
from core.errors import InvalidRequest
from tests.accounts.scenario import (
    MAX,
    audit_mark,
    audit_since,
    balance,
    drawer,
    fresh,
    in_request,
    perform,
    purse,
    put_in_status,
    terminal_writes_pending_loads,
    world,
)
from tests.factories import make_card, make_cardholder, new_uid

pytestmark = pytest.mark.django_db




def test_clerk_registers_a_holder_and_issues_a_card_with_a_deposit(clerk) -> None:
    holder = in_request("req-register-1", lambda: services.cardholder_create(
        number="S2026001", name="Zhang San", kind="student", department="CS", by=clerk))

    # A new department is recorded too: both rows carry the request id.
    unit, registered = AuditEvent.objects.order_by("id")
    assert (unit.action, unit.subject_id, unit.request_id) == ("org_unit.create", "CS",
                                                               "req-register-1")
    assert registered.action == "cardholder.create"
    assert registered.actor == clerk
    assert registered.request_id == "req-register-1"
    assert registered.subject_id == "S2026001"
    assert registered.after is not None and registered.after["department"] == "CS"
    assert balance(purse(holder)) == 0 and balance(purse(holder, "subsidy")) == 0

    mark = audit_mark()
    card = in_request("req-issue-1", lambda: services.card_issue(
        cardholder=holder, uid="04A1B2C3", deposit=2000, by=clerk))

    card = fresh(card)
    assert card.uid == "04a1b2c3"
    assert card.status == CardStatus.ACTIVE and not card.blacklisted
    assert re.fullmatch(rf"{timezone.localdate().year}\d{{4,}}", card.card_no)
    assert card.deposit == 2000
    assert balance("deposits_held") == 2000
    assert balance(drawer(clerk)) == -2000  # the drawer holds the cash (credit-negative)
    assert card_balances(card) == {
        "main": {"account": 0, "card": 0, "pending": 0},
        "subsidy": {"account": 0, "card": 0, "pending": 0},
    }
    (issued,) = audit_since(mark)
    assert issued.action == "card.issue"
    assert issued.actor == clerk and issued.actor_label == "clerk-li"
    assert issued.subject_type == "card" and issued.subject_id == card.card_no
    assert issued.request_id == "req-issue-1"
    assert issued.before is None
    assert issued.after is not None
    assert issued.after["deposit"] == 2000 and issued.after["uid"] == "04a1b2c3"
    assert issued.after["cardholder"] == "S2026001"
    assert ledger_check() == []


def test_a_card_without_a_deposit_moves_no_money(clerk) -> None:
    card = make_card(by=clerk, deposit=0)

    assert not Posting.objects.filter(card=card).exists()
    assert balance("deposits_held") == 0


def test_the_deposit_can_be_paid_by_bank(clerk) -> None:
    holder = make_cardholder(by=clerk)
    services.card_issue(cardholder=holder, uid=new_uid(), deposit=1500, deposit_method="bank",
                        by=clerk)

    assert balance("bank_clearing") == -1500
    assert balance("deposits_held") == 1500
    assert balance(drawer(clerk)) == 0


@pytest.mark.parametrize("live_status", LIVE_STATUSES)
def test_a_holder_with_a_card_in_use_cannot_get_a_second_one(clerk, live_status: str) -> None:
    card = make_card(by=clerk)
    if live_status != CardStatus.ACTIVE:
        put_in_status(card, live_status, clerk)
    before = world()

    with pytest.raises(ActiveCardExists) as exc:
        services.card_issue(cardholder=card.cardholder, uid=new_uid(), deposit=500, by=clerk)

    assert exc.value.code == "active_card_exists"
    assert world() == before


def test_a_holder_whose_card_was_cancelled_can_get_a_new_one(clerk) -> None:
    card = make_card(by=clerk)
    services.card_cancel(card=card, refund_method="cash", by=clerk)

    new = services.card_issue(cardholder=card.cardholder, uid=new_uid(), by=clerk)

    assert new.status == CardStatus.ACTIVE


def test_a_uid_in_use_is_refused_whatever_its_case(clerk) -> None:
    make_card(by=clerk, uid="04A1B2C3")
    other = make_cardholder(by=clerk)
    before = world()

    with pytest.raises(UidInUse) as exc:
        services.card_issue(cardholder=other, uid="04a1b2c3", deposit=1000, by=clerk)

    assert exc.value.code == "uid_in_use"
    assert world() == before


def test_the_uid_of_a_cancelled_card_can_be_used_again(clerk) -> None:
    card = make_card(by=clerk, uid="04a1b2c3")
    services.card_cancel(card=card, refund_method="cash", by=clerk)

    again = services.card_issue(cardholder=make_cardholder(by=clerk), uid="04A1B2C3", by=clerk)

    assert again.uid == "04a1b2c3"


@pytest.mark.parametrize("uid", ["04a1b2", "04a1b2c3d", "zz a1b2c3", "00" * 11, ""])
def test_a_malformed_uid_is_refused(clerk, uid: str) -> None:
    holder = make_cardholder(by=clerk)
    before = world()

    with pytest.raises(InvalidRequest):
        services.card_issue(cardholder=holder, uid=uid, by=clerk)

    assert world() == before


@pytest.mark.parametrize("deposit", [-1, -2000, 10.5, True])
def test_a_negative_or_fractional_deposit_is_refused(clerk, deposit: Any) -> None:
    holder = make_cardholder(by=clerk)
    before = world()

    with pytest.raises(InvalidAmount) as exc:
        services.card_issue(cardholder=holder, uid=new_uid(), deposit=deposit, by=clerk)

    assert exc.value.code == "invalid_amount"
    assert world() == before


# --- Top-ups ---------------------------------------------------------------------------


@pytest.mark.parametrize("method, source", [
    ("cash", None), ("bank", "bank_clearing"), ("online", "online_clearing"),
])
def test_a_top_up_credits_the_account_at_once_and_waits_to_reach_the_card(
    clerk, method: str, source: str | None,
) -> None:
    card = make_card(by=clerk, deposit=1000)
    holder = card.cardholder
    source = source or drawer(clerk)
    source_before = balance(source)
    mark = audit_mark()

    load = in_request("req-top-up-1", lambda: services.card_top_up(
        card=card, amount=5000, method=method, reference="R-1", by=clerk))

    assert balance(source) == source_before - 5000
    assert balance(purse(holder)) == 5000
    assert card_balances(fresh(card)) == {
        "main": {"account": 5000, "card": 0, "pending": 5000},
        "subsidy": {"account": 0, "card": 0, "pending": 0},
    }
    load.refresh_from_db()
    assert load.status == LoadStatus.PENDING and load.source == LoadSource.TOP_UP
    assert load.method == method and load.reference == "R-1" and load.card_id == card.pk
    assert load.posting is not None
    assert dict(load.posting.entries.values_list("account__code", "amount")) == {
        source: -5000, purse(holder): 5000,
    }
    (event,) = audit_since(mark)
    assert event.action == "card.top_up" and event.actor == clerk
    assert event.request_id == "req-top-up-1" and event.subject_id == card.card_no
    assert event.after == {"load_id": load.load_id, "amount": 5000, "purse": "main",
                           "method": method, "reference": "R-1"}
    assert ledger_check() == []


def test_a_top_up_can_go_to_the_subsidy_purse(clerk) -> None:
    card = make_card(by=clerk)

    services.card_top_up(card=card, amount=700, purse="subsidy", method="bank", by=clerk)

    assert card_balances(fresh(card)) == {
        "main": {"account": 0, "card": 0, "pending": 0},
        "subsidy": {"account": 700, "card": 0, "pending": 700},
    }


def test_a_written_load_moves_from_pending_to_card(clerk) -> None:
    card = make_card(by=clerk)
    services.card_top_up(card=card, amount=5000, method="cash", by=clerk)
    services.card_top_up(card=card, amount=1250, method="online", by=clerk)

    card = terminal_writes_pending_loads(card)

    assert card_balances(card)["main"] == {"account": 6250, "card": 6250, "pending": 0}
    assert card.card_seq == 2
    assert ledger_check() == []


@pytest.mark.parametrize("amount", [0, -1, -5000, 12.5, "100", True])
def test_a_top_up_of_zero_or_less_is_refused(clerk, amount: Any) -> None:
    card = make_card(by=clerk)
    before = world()

    with pytest.raises(InvalidAmount) as exc:
        services.card_top_up(card=card, amount=amount, method="cash", by=clerk)

    assert exc.value.code == "invalid_amount"
    assert world() == before


def test_a_top_up_by_an_unknown_method_is_refused(clerk) -> None:
    card = make_card(by=clerk)
    before = world()

    with pytest.raises(InvalidRequest):
        services.card_top_up(card=card, amount=100, method="cheque", by=clerk)

    assert world() == before


def test_a_top_up_above_the_maximum_balance_is_refused_and_changes_nothing(clerk) -> None:
    card = make_card(by=clerk)
    services.card_top_up(card=card, amount=MAX - 100, method="bank", by=clerk)
    before = world()

    with pytest.raises(BalanceLimitExceeded) as exc:
        services.card_top_up(card=card, amount=101, method="bank", by=clerk)

    assert exc.value.code == "balance_limit_exceeded"
    assert exc.value.extra == {"maximum": MAX}
    assert world() == before
    # Exactly up to the maximum is fine.
    services.card_top_up(card=card, amount=100, method="bank", by=clerk)
    assert balance(purse(card.cardholder)) == MAX


def test_one_top_up_above_the_maximum_is_refused(clerk) -> None:
    card = make_card(by=clerk)
    before = world()

    with pytest.raises(BalanceLimitExceeded):
        services.card_top_up(card=card, amount=MAX + 1, method="cash", by=clerk)

    assert world() == before


@pytest.mark.parametrize("status", [CardStatus.LOST, CardStatus.FROZEN])
def test_a_lost_or_frozen_card_still_receives_money_owed(clerk, status: str) -> None:
    card = put_in_status(make_card(by=clerk), status, clerk)

    services.card_top_up(card=card, amount=300, method="bank", by=clerk)

    assert card_balances(fresh(card))["main"] == {"account": 300, "card": 0, "pending": 300}


@pytest.mark.parametrize("status", [CardStatus.REPLACED, CardStatus.CANCELLED,
                                    CardStatus.EXPIRED])
def test_a_closed_card_cannot_be_topped_up(clerk, status: str) -> None:
    card = put_in_status(make_card(by=clerk), status, clerk)
    before = world()

    with pytest.raises(InvalidStatus) as exc:
        services.card_top_up(card=card, amount=300, method="cash", by=clerk)

    assert exc.value.code == "invalid_status"
    assert world() == before


# --- Loss, unlock, freeze ------------------------------------------------------------


def test_holder_reports_a_loss_and_the_card_goes_on_the_blacklist(clerk) -> None:
    card = make_card(by=clerk)
    version = blacklist_version()
    mark = audit_mark()

    lost = in_request("req-loss-1", lambda: services.card_report_loss(card=card, by=clerk))

    assert lost.status == CardStatus.LOST and lost.blacklisted
    assert fresh(card).blacklisted
    assert blacklist_version() == version + 1
    change = BlacklistVersion.objects.get(version=version + 1)
    assert (change.card_no, change.action, change.reason) == (card.card_no, "add", "report_loss")
    assert card.card_no in blacklist_full().add
    (event,) = audit_since(mark)
    assert event.action == "card.report_loss" and event.actor == clerk
    assert event.request_id == "req-loss-1"
    assert event.before is not None and event.after is not None
    assert (event.before["status"], event.before["blacklisted"]) == ("active", False)
    assert (event.after["status"], event.after["blacklisted"]) == ("lost", True)


def test_a_found_card_is_unlocked_and_leaves_the_blacklist(clerk) -> None:
    card = make_card(by=clerk)
    services.card_report_loss(card=card, by=clerk)
    version = blacklist_version()
    mark = audit_mark()

    found = in_request("req-unlock-1", lambda: services.card_unlock(card=card, by=clerk))

    assert found.status == CardStatus.ACTIVE and not found.blacklisted
    assert blacklist_version() == version + 1
    assert BlacklistVersion.objects.get(version=version + 1).action == "remove"
    assert card.card_no not in blacklist_full().add
    (event,) = audit_since(mark)
    assert event.action == "card.unlock" and event.request_id == "req-unlock-1"
    assert event.before is not None and event.before["status"] == "lost"
    assert event.after is not None and event.after["status"] == "active"


def test_a_card_is_frozen_and_unfrozen_with_a_reason(clerk) -> None:
    card = make_card(by=clerk)
    version = blacklist_version()

    frozen = services.card_freeze(card=card, by=clerk, reason="suspicious use")

    assert frozen.status == CardStatus.FROZEN and frozen.blacklisted
    assert blacklist_version() == version + 1
    freeze_event = AuditEvent.objects.get(action="card.freeze")
    assert freeze_event.after is not None and freeze_event.after["reason"] == "suspicious use"

    thawed = services.card_unfreeze(card=card, by=clerk, reason="cleared")

    assert thawed.status == CardStatus.ACTIVE and not thawed.blacklisted
    assert blacklist_version() == version + 2
    assert card.card_no not in blacklist_full().add
    unfreeze_event = AuditEvent.objects.get(action="card.unfreeze")
    assert unfreeze_event.after is not None and unfreeze_event.after["reason"] == "cleared"


def test_a_frozen_card_reported_lost_stays_listed_without_a_new_version(clerk) -> None:
    card = put_in_status(make_card(by=clerk), CardStatus.FROZEN, clerk)
    version = blacklist_version()

    lost = services.card_report_loss(card=card, by=clerk)

    assert lost.status == CardStatus.LOST and lost.blacklisted
    assert blacklist_version() == version


# --- Replacement ------------------------------------------------------------------------


def test_clerk_replaces_a_lost_card_and_the_balance_follows(clerk) -> None:
    card = make_card(by=clerk, deposit=2000)
    holder = card.cardholder
    services.card_top_up(card=card, amount=5000, method="cash", by=clerk)
    card = terminal_writes_pending_loads(card)  # 5000 now on the card itself
    unclaimed = services.card_top_up(card=card, amount=1000, method="online", by=clerk)
    services.subsidy_batch_create(name="November meals", purse="subsidy", by=clerk,
                                  entries=[{"cardholder": holder.number, "amount": 2000}])
    services.card_report_loss(card=card, by=clerk)
    version = blacklist_version()
    deposits = balance("deposits_held")
    mark = audit_mark()

    new = in_request("req-replace-1", lambda: services.card_replace(
        card=card, uid="04FFEE01", by=clerk))

    old = fresh(card)
    new = fresh(new)
    assert old.status == CardStatus.REPLACED and old.blacklisted and old.closed_at
    assert old.replaced_by == new
    assert old.deposit == 0 and old.card_main == 0 and old.card_subsidy == 0
    assert blacklist_version() == version  # a lost card is listed already
    assert new.status == CardStatus.ACTIVE and not new.blacklisted
    assert new.uid == "04ffee01" and new.cardholder == holder and new.card_no != old.card_no
    assert new.deposit == 2000 and balance("deposits_held") == deposits
    # The old card's unclaimed loads moved; what was on it became a replacement load.
    unclaimed.refresh_from_db()
    assert unclaimed.status == LoadStatus.TRANSFERRED and unclaimed.transferred_to is not None
    assert unclaimed.transferred_to.card == new
    assert not PendingLoad.objects.filter(card=old, status=LoadStatus.PENDING).exists()
    new_loads = sorted(PendingLoad.objects.filter(card=new).values_list("source", "purse",
                                                                        "amount", "status"))
    assert new_loads == sorted([
        (LoadSource.TOP_UP, "main", 1000, LoadStatus.PENDING),
        (LoadSource.SUBSIDY, "subsidy", 2000, LoadStatus.PENDING),
        (LoadSource.REPLACEMENT, "main", 5000, LoadStatus.PENDING),
    ])
    assert card_balances(new) == {
        "main": {"account": 6000, "card": 0, "pending": 6000},
        "subsidy": {"account": 2000, "card": 0, "pending": 2000},
    }
    # The money follows the holder: it is shown on the live card only.
    assert card_balances(old)["main"] == {"account": 0, "card": 0, "pending": 0}
    (event,) = audit_since(mark)
    assert event.action == "card.replace" and event.actor == clerk
    assert event.request_id == "req-replace-1" and event.subject_id == old.card_no
    assert event.after is not None
    assert event.after["new_card_no"] == new.card_no and event.after["deposit_carried"] == 2000
    assert sorted(x["amount"] for x in event.after["loads"]) == [1000, 2000, 5000]
    assert ledger_check() == []

    # The new card takes its loads; the books still agree.
    new = terminal_writes_pending_loads(new)
    assert card_balances(new)["main"] == {"account": 6000, "card": 6000, "pending": 0}
    assert ledger_check() == []


def test_replacing_an_active_card_puts_the_old_one_on_the_blacklist(clerk) -> None:
    card = make_card(by=clerk)
    version = blacklist_version()

    new = services.card_replace(card=card, uid=new_uid(), by=clerk)

    assert blacklist_version() == version + 1
    listed = blacklist_full().add
    assert card.card_no in listed and new.card_no not in listed


def test_a_replacement_may_reuse_the_same_chip(clerk) -> None:
    card = make_card(by=clerk, uid="04a1b2c3")

    new = services.card_replace(card=card, uid="04A1B2C3", by=clerk)

    assert new.uid == "04a1b2c3" and fresh(card).status == CardStatus.REPLACED


def test_a_replacement_onto_a_uid_in_use_changes_nothing(clerk) -> None:
    make_card(by=clerk, uid="0badcafe")
    card = put_in_status(make_card(by=clerk), CardStatus.LOST, clerk)
    before = world()

    with pytest.raises(UidInUse):
        services.card_replace(card=card, uid="0BADCAFE", by=clerk)

    assert world() == before


# --- Cancellation -----------------------------------------------------------------------


def _card_with_money(clerk: Any) -> tuple[Card, PendingLoad]:
    """Deposit 2000; main 5000 of which 3000 on the card; subsidy 1000 pending."""
    card = make_card(by=clerk, deposit=2000)
    services.card_top_up(card=card, amount=3000, method="bank", by=clerk)
    card = terminal_writes_pending_loads(card)
    pending = services.card_top_up(card=card, amount=2000, method="bank", by=clerk)
    services.subsidy_batch_create(name="Meals", purse="subsidy", by=clerk,
                                  entries=[{"cardholder": card.cardholder.number, "amount": 1000}])
    return card, pending


def test_cancelling_refunds_purses_and_deposit_less_the_fee(clerk, settings) -> None:
    settings.ONECARD_CANCELLATION_FEE = 500
    card, pending = _card_with_money(clerk)
    holder = card.cardholder
    subsidy_loads = list(PendingLoad.objects.filter(card=card, source=LoadSource.SUBSIDY))
    drawer_before, fund_before = balance(drawer(clerk)), balance("subsidy_fund")
    version = blacklist_version()
    mark = audit_mark()

    refund = in_request("req-cancel-1", lambda: services.card_cancel(
        card=card, refund_method="cash", by=clerk))

    assert (refund.main, refund.subsidy, refund.deposit, refund.fee) == (5000, 1000, 2000, 500)
    assert refund.subsidy_recovered == 0
    assert refund.total == 5000 + 1000 + 2000 - 500
    assert sorted(refund.voided_loads) == sorted([pending.load_id, subsidy_loads[0].load_id])
    assert balance(purse(holder)) == 0 and balance(purse(holder, "subsidy")) == 0
    assert balance(drawer(clerk)) == drawer_before + 7500  # cash paid out of the drawer
    assert balance("deposits_held") == 0
    assert balance("fee_income") == 500
    assert balance("subsidy_fund") == fund_before
    card = fresh(card)
    assert card.status == CardStatus.CANCELLED and card.blacklisted and card.deposit == 0
    assert blacklist_version() == version + 1
    assert not PendingLoad.objects.filter(card=card, status=LoadStatus.PENDING).exists()
    assert PendingLoad.objects.filter(card=card, status=LoadStatus.VOIDED).count() == 2
    (event,) = audit_since(mark)
    assert event.action == "card.cancel" and event.request_id == "req-cancel-1"
    assert event.actor == clerk
    assert event.before is not None and event.before["deposit"] == 2000
    assert event.after is not None and event.after["refund"] == refund.as_dict()
    assert ledger_check() == []


def test_without_subsidy_refunds_the_subsidy_returns_to_the_fund(clerk, settings) -> None:
    settings.ONECARD_REFUND_SUBSIDY = False
    settings.ONECARD_CANCELLATION_FEE = 500
    card, _pending = _card_with_money(clerk)
    fund_before = balance("subsidy_fund")

    refund = services.card_cancel(card=card, refund_method="cash", by=clerk)

    assert (refund.main, refund.subsidy, refund.subsidy_recovered) == (5000, 0, 1000)
    assert refund.total == 5000 + 2000 - 500
    assert balance("subsidy_fund") == fund_before + 1000
    assert balance(purse(card.cardholder, "subsidy")) == 0
    assert ledger_check() == []


def test_the_cancellation_fee_is_capped_at_what_is_refundable(clerk, settings) -> None:
    settings.ONECARD_CANCELLATION_FEE = 10_000
    card = make_card(by=clerk, deposit=1000)
    services.card_top_up(card=card, amount=1500, method="cash", by=clerk)

    refund = services.card_cancel(card=card, refund_method="cash", by=clerk)

    assert (refund.fee, refund.total) == (2500, 0)
    assert balance("fee_income") == 2500
    assert ledger_check() == []


def test_a_card_with_nothing_on_it_is_cancelled_without_a_posting(clerk, settings) -> None:
    settings.ONECARD_CANCELLATION_FEE = 500
    card = make_card(by=clerk)

    refund = services.card_cancel(card=card, refund_method="cash", by=clerk)

    assert (refund.fee, refund.total) == (0, 0)
    assert not Posting.objects.filter(kind="cancel").exists()
    assert fresh(card).status == CardStatus.CANCELLED


def test_a_bank_refund_goes_to_the_refunds_account(clerk) -> None:
    card = make_card(by=clerk, deposit=1000)
    services.card_top_up(card=card, amount=4000, method="online", by=clerk)
    drawer_before = balance(drawer(clerk))

    refund = services.card_cancel(card=card, refund_method="bank", by=clerk)

    assert refund.total == 5000
    assert balance("refunds") == 5000
    assert balance(drawer(clerk)) == drawer_before
    assert ledger_check() == []


def test_a_refund_by_an_unknown_method_changes_nothing(clerk) -> None:
    card = make_card(by=clerk, deposit=1000)
    before = world()

    with pytest.raises(InvalidRequest):
        services.card_cancel(card=card, refund_method="online", by=clerk)

    assert world() == before


def test_a_lost_card_can_be_cancelled(clerk) -> None:
    card = put_in_status(make_card(by=clerk, deposit=500), CardStatus.LOST, clerk)
    version = blacklist_version()

    refund = services.card_cancel(card=card, refund_method="cash", by=clerk)

    assert refund.total == 500
    assert blacklist_version() == version  # listed already


# --- Transitions the table forbids --------------------------------------------------------

ACTIONS = sorted(set(CARD_TRANSITIONS.values()))
FORBIDDEN = [
    (status.value, action)
    for status in CardStatus
    for action in ACTIONS
    if not any(frm == status and act == action for (frm, _to), act in CARD_TRANSITIONS.items())
]


def test_the_forbidden_list_covers_every_status() -> None:
    assert {s for s, _a in FORBIDDEN} == set(CardStatus.values)
    assert len(FORBIDDEN) + len(CARD_TRANSITIONS) == len(CardStatus) * len(ACTIONS)


@pytest.mark.parametrize("status, action", FORBIDDEN)
def test_an_action_that_does_not_fit_the_status_changes_nothing(
    clerk, status: str, action: str,
) -> None:
    card = make_card(by=clerk, deposit=800)
    services.card_top_up(card=card, amount=1200, method="cash", by=clerk)
    if status != CardStatus.ACTIVE:
        card = put_in_status(card, status, clerk)
    before = world()

    with pytest.raises(InvalidStatus) as exc:
        perform(action, card, clerk)

    assert exc.value.code == "invalid_status" and exc.value.status == 409
    assert exc.value.extra["status"] == status
    assert world() == before


@pytest.mark.parametrize("status, action", sorted(
    (str(frm), act) for (frm, _to), act in CARD_TRANSITIONS.items()))
def test_every_allowed_transition_writes_one_audit_event_with_the_request_id(
    clerk, status: str, action: str,
) -> None:
    card = make_card(by=clerk)
    if status != CardStatus.ACTIVE:
        card = put_in_status(card, status, clerk)
    mark = audit_mark()

    in_request(f"req-{action}", lambda: perform(action, card, clerk))

    (event,) = audit_since(mark)
    assert event.action == f"card.{action}"
    assert event.actor == clerk and event.actor_label == clerk.username
    assert event.request_id == f"req-{action}"
    assert event.subject_id == card.card_no
    assert event.before is not None and event.before["status"] == status
    target = next(to for (frm, to), act in CARD_TRANSITIONS.items()
                  if frm == status and act == action)
    assert fresh(card).status == target
    assert event.after is not None and event.after["status"] == target
    assert ledger_check() == []


# --- Known gap ------------------------------------------------------------------------------


def test_a_new_card_after_an_expired_one_carries_the_holders_money(clerk) -> None:
    card = make_card(by=clerk)
    services.card_top_up(card=card, amount=500, method="bank", by=clerk)
    services.card_expire(card=card, by=clerk)

    new = services.card_issue(cardholder=card.cardholder, uid=new_uid(), by=clerk)

    assert card_balances(new)["main"] == {"account": 500, "card": 0, "pending": 500}
    assert ledger_check() == []


def test_a_graduates_expired_card_is_cancelled_and_the_money_refunded(clerk) -> None:
    card = make_card(by=clerk, deposit=2000)
    services.card_top_up(card=card, amount=500, method="cash", by=clerk)
    services.card_expire(card=card, by=clerk)

    refund = services.card_cancel(card=card, refund_method="cash", by=clerk)

    assert (refund.main, refund.deposit, refund.total) == (500, 2000, 2500)
    assert fresh(card).status == CardStatus.CANCELLED
    assert ledger_check() == []


def test_an_expired_card_cannot_be_cancelled_while_the_holder_has_a_new_one(clerk) -> None:
    card = make_card(by=clerk)
    services.card_top_up(card=card, amount=500, method="cash", by=clerk)
    services.card_expire(card=card, by=clerk)
    services.card_issue(cardholder=card.cardholder, uid=new_uid(), by=clerk)

    with pytest.raises(InvalidStatus):
        services.card_cancel(card=card, refund_method="cash", by=clerk)
    assert fresh(card).status == CardStatus.EXPIRED
    assert ledger_check() == []
