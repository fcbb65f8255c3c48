"""Any sequence of counter work keeps the books whole.

A hypothesis state machine plays a busy card office: holders registered, cards issued,
topped up (sometimes with bad amounts or onto closed cards), subsidies granted, cards
lost, found, frozen, replaced, cancelled, and terminals writing pending loads to cards.
After every step the ledger invariants, the one-live-card rule, the listing flags and the
blacklist deltas are checked against PostgreSQL. Each rule also predicts its own outcome
(success or the exact refusal) from the state before it, and a refusal must change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from accounts import services
from accounts.errors import (
    ActiveCardExists,
    BalanceLimitExceeded,
    CardholdersWithoutCard,
    InvalidAmount,
    InvalidStatus,
    UidInUse,
    UnknownCardholders,
)
from accounts.models import (
    BLACKLISTED_STATUSES,
    CARD_TRANSITIONS,
    LIVE_STATUSES,
    LOADABLE_STATUSES,
    PURSE_KINDS,
    Card,
    Cardholder,
    CardStatus,
    LedgerAccount,
    LoadStatus,
    PendingLoad,
)
from accounts.selectors import blacklist_delta, blacklist_full, ledger_check
from core.errors import DomainError
from tests.accounts.scenario import (
    MAX,
    balance,
    purse,
    terminal_writes_pending_loads,
    world,
)
from tests.factories import make_cardholder, new_uid

PURSES = st.sampled_from(["main", "subsidy"])
METHODS = st.sampled_from(["cash", "bank", "online"])
AMOUNTS = st.one_of(st.integers(-500, 0), st.integers(1, 400_000), st.just(MAX))
PICK = st.integers(0, 1_000)


class LedgerMachine(RuleBasedStateMachine):
    clerk: ClassVar[Any] = None  # set by the test: one staff user outside the savepoints

    def __init__(self) -> None:
        super().__init__()
        # Every example starts from the empty test database and leaves it so.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.holders: list[int] = []
        self.batches: set[tuple[str, str, tuple[tuple[str, int], ...]]] = set()
        self.remembered: dict[int, set[str]] = {}
        assert not Card.objects.exists() and not Cardholder.objects.exists()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers ---------------------------------------------------------------------

    def _expect(self, refusal: type[DomainError] | None, action: Callable[[], Any]) -> Any:
        if refusal is None:
            return action()
        before = world()
        with pytest.raises(refusal):
            action()
        assert world() == before, f"a refused {refusal.__name__} changed something"
        return None

    def _card(self, pick: int) -> Card:
        """Mostly a card in use (three picks in four), else any card, closed ones too."""
        cards = Card.objects.order_by("id")
        live = cards.filter(status__in=LIVE_STATUSES)
        if pick % 4 and live.exists():
            cards = live
        ids = list(cards.values_list("id", flat=True))
        return Card.objects.select_related("cardholder").get(pk=ids[pick // 4 % len(ids)])

    def _holder(self, pick: int, *, with_card: bool | None = None) -> Cardholder:
        """Three picks in four honour `with_card` (holders with a live card or without)."""
        holders = Cardholder.objects.filter(pk__in=self.holders).order_by("id")
        if with_card is not None and pick % 4:
            has_live = Q(cards__status__in=LIVE_STATUSES)
            chosen = holders.filter(has_live) if with_card else holders.exclude(has_live)
            holders = chosen if chosen.exists() else holders
        ids = list(holders.values_list("id", flat=True).distinct())
        return Cardholder.objects.get(pk=ids[pick // 4 % len(ids)])

    def _has_cards(self) -> bool:
        return Card.objects.exists()

    def _transition(self, pick: int, to: str, action: str, call: Callable[[Card], Any]) -> Any:
        card = self._card(pick)
        allowed = CARD_TRANSITIONS.get((card.status, to)) == action
        return self._expect(None if allowed else InvalidStatus, lambda: call(card))

    # --- the counter's work -----------------------------------------------------------

    @initialize()
    def open_the_office(self) -> None:
        for _ in range(3):
            self.create_holder()
        services.card_issue(cardholder=self._holder(0), uid=new_uid(), deposit=1000,
                            by=self.clerk)
        self.remember()

    @rule()
    def create_holder(self) -> None:
        self.holders.append(make_cardholder(by=self.clerk).pk)

    @rule(pick=PICK, deposit=st.sampled_from([0, 500, 2000]),
          uid_from=st.sampled_from(["new", "reuse", "reuse-upper"]))
    def issue(self, pick: int, deposit: int, uid_from: str) -> None:
        holder = self._holder(pick, with_card=False)
        uid = new_uid()
        if uid_from != "new" and self._has_cards():
            uid = self._card(pick).uid
            uid = uid.upper() if uid_from == "reuse-upper" else uid
        refusal: type[DomainError] | None = None
        if holder.cards.filter(status__in=LIVE_STATUSES).exists():
            refusal = ActiveCardExists
        elif Card.objects.filter(uid=uid.lower(), status__in=LIVE_STATUSES).exists():
            refusal = UidInUse
        card = self._expect(refusal, lambda: services.card_issue(
            cardholder=holder, uid=uid, deposit=deposit, by=self.clerk))
        if card is not None:
            assert card.uid == uid.lower() and card.deposit == deposit

    @precondition(lambda self: self._has_cards())
    @rule(pick=PICK, purse_name=PURSES, method=METHODS, amount=AMOUNTS)
    def top_up(self, pick: int, purse_name: str, method: str, amount: int) -> None:
        self._top_up(self._card(pick), purse_name, method, amount)

    @precondition(lambda self: self._has_cards())
    @rule(pick=PICK, method=METHODS, amount=st.integers(1, 50_000))
    def everyday_top_up(self, pick: int, method: str, amount: int) -> None:
        self._top_up(self._card(pick | 1), "main", method, amount)

    def _top_up(self, card: Card, purse_name: str, method: str, amount: int) -> None:
        code = purse(card.cardholder, purse_name)
        held = balance(code)
        refusal: type[DomainError] | None = None
        if amount <= 0:
            refusal = InvalidAmount
        elif card.status not in LOADABLE_STATUSES:
            refusal = InvalidStatus
        elif held + amount > MAX:
            refusal = BalanceLimitExceeded
        load = self._expect(refusal, lambda: services.card_top_up(
            card=card, amount=amount, purse=purse_name, method=method, by=self.clerk))
        if load is not None:
            assert balance(code) == held + amount
            assert load.status == LoadStatus.PENDING and load.card_id == card.pk

    @precondition(lambda self: self.holders)
    @rule(grants=st.lists(st.tuples(PICK, st.integers(1, 300_000)), min_size=1, max_size=4),
          name=st.sampled_from(["October", "November"]), purse_name=PURSES,
          with_unknown=st.integers(0, 4).map(lambda n: n == 0))
    def subsidy(self, grants: list[tuple[int, int]], name: str, purse_name: str,
                with_unknown: bool) -> None:
        amounts: dict[str, int] = {}
        for pick, amount in grants:
            amounts.setdefault(self._holder(pick, with_card=True).number, amount)
        if with_unknown:
            amounts["NOBODY"] = 100
        pairs = tuple(sorted(amounts.items()))
        entries = [{"cardholder": n, "amount": a} for n, a in pairs]
        known = Cardholder.objects.filter(number__in=amounts)
        refusal: type[DomainError] | None = None
        repeat = (name, purse_name, pairs) in self.batches
        if repeat:
            refusal = None
        elif with_unknown:
            refusal = UnknownCardholders
        elif known.exclude(cards__status__in=LIVE_STATUSES).exists():
            refusal = CardholdersWithoutCard
        elif any(balance(purse(h, purse_name)) + amounts[h.number] > MAX for h in known):
            refusal = BalanceLimitExceeded
        fund = balance("subsidy_fund")
        result = self._expect(refusal, lambda: services.subsidy_batch_create(
            name=name, purse=purse_name, entries=entries, by=self.clerk))
        if result is not None:
            assert result.created is not repeat
            grant = 0 if repeat else sum(amounts.values())
            assert balance("subsidy_fund") == fund - grant
            self.batches.add((name, purse_name, pairs))

    @precondition(lambda self: self._has_cards())
    @rule(pick=PICK)
    def report_loss(self, pick: int) -> None:
        self._transition(pick, CardStatus.LOST, "report_loss",
                         lambda c: services.card_report_loss(card=c, by=self.clerk))

    @precondition(lambda self: self._has_cards())
    @rule(pick=PICK)
    def unlock(self, pick: int) -> None:
        self._transition(pick, CardStatus.ACTIVE, "unlock",
                         lambda c: services.card_unlock(card=c, by=self.clerk))

    @precondition(lambda self: self._has_cards())
    @rule(pick=PICK)
    def freeze(self, pick: int) -> None:
        self._transition(pick, CardStatus.FROZEN, "freeze",
                         lambda c: services.card_freeze(card=c, by=self.clerk, reason="r"))

    @precondition(lambda self: self._has_cards())
    @rule(pick=PICK)
    def unfreeze(self, pick: int) -> None:
        self._transition(pick, CardStatus.ACTIVE, "unfreeze",
                         lambda c: services.card_unfreeze(card=c, by=self.clerk, reason="r"))

    @precondition(lambda self: self._has_cards())
    @rule(pick=PICK, same_chip=st.booleans())
    def replace(self, pick: int, same_chip: bool) -> None:
        old = self._card(pick)
        uid = old.uid if same_chip else new_uid()
        owed = {p: balance(purse(old.cardholder, p)) for p in ("main", "subsidy")}
        new = self._transition(pick, CardStatus.REPLACED, "replace",
                               lambda c: services.card_replace(card=c, uid=uid, by=self.clerk))
        if new is not None:
            assert new.deposit == old.deposit and new.uid == uid
            pending = dict(PendingLoad.objects.filter(card=new, status=LoadStatus.PENDING)
                           .values("purse").annotate(s=Sum("amount")).values_list("purse", "s"))
            assert {p: pending.get(p, 0) for p in owed} == owed

    @precondition(lambda self: self._has_cards())
    @rule(pick=PICK, method=st.sampled_from(["cash", "bank"]), fee=st.sampled_from([0, 300]),
          refund_subsidy=st.booleans())
    def cancel(self, pick: int, method: str, fee: int, refund_subsidy: bool) -> None:
        card = self._card(pick)
        main = balance(purse(card.cardholder, "main"))
        subsidy = balance(purse(card.cardholder, "subsidy"))
        with override_settings(ONECARD_CANCELLATION_FEE=fee,
                               ONECARD_REFUND_SUBSIDY=refund_subsidy):
            refund = self._transition(pick, CardStatus.CANCELLED, "cancel", lambda c: (
                services.card_cancel(card=c, refund_method=method, by=self.clerk)))
        if refund is not None:
            refundable = main + (subsidy if refund_subsidy else 0) + card.deposit
            assert refund.fee == min(fee, refundable)
            assert refund.total == refundable - refund.fee
            assert balance(purse(card.cardholder, "main")) == 0
            assert balance(purse(card.cardholder, "subsidy")) == 0

    @precondition(lambda self: Card.objects.filter(
        status=CardStatus.ACTIVE, loads__status=LoadStatus.PENDING).exists())
    @rule(pick=PICK)
    def terminal_writes_a_pending_load(self, pick: int) -> None:
        ids = sorted(set(Card.objects.filter(
            status=CardStatus.ACTIVE, loads__status=LoadStatus.PENDING)
            .values_list("id", flat=True)))
        terminal_writes_pending_loads(Card.objects.get(pk=ids[pick % len(ids)]))

    # --- what must hold after every step --------------------------------------------

    @invariant()
    def books_balance(self) -> None:
        assert ledger_check() == []
        assert (LedgerAccount.objects.aggregate(s=Sum("balance"))["s"] or 0) == 0

    @invariant()
    def purses_within_bounds(self) -> None:
        out = LedgerAccount.objects.filter(kind__in=PURSE_KINDS).filter(
            Q(balance__lt=0) | Q(balance__gt=F("max_balance")) | Q(balance__gt=MAX))
        assert not out.exists()

    @invariant()
    def at_most_one_live_card_per_holder(self) -> None:
        assert not (Card.objects.filter(status__in=LIVE_STATUSES).values("cardholder")
                    .annotate(n=Count("id")).filter(n__gt=1).exists())

    @invariant()
    def listing_flags_match_statuses(self) -> None:
        for status, blacklisted, clone in Card.objects.values_list(
                "status", "blacklisted", "suspected_clone"):
            assert blacklisted == (status in BLACKLISTED_STATUSES or clone)

    @invariant()
    def blacklist_deltas_fold_to_the_full_list(self) -> None:
        now = set(blacklist_full().add)
        for version, listed in self.remembered.items():
            delta = blacklist_delta(version)
            folded = set(delta.add) if delta.full else (listed - set(delta.remove)) | set(
                delta.add)
            assert folded == now, f"delta since {version}"
        self.remember()

    def remember(self) -> None:
        """Keep the first list seen and the three latest versions."""
        full = blacklist_full()
        self.remembered[full.version] = set(full.add)
        versions = sorted(self.remembered)
        for old in versions[1:-3]:
            del self.remembered[old]


@pytest.mark.django_db
def test_the_books_hold_under_any_sequence_of_counter_work(on_postgres, clerk) -> None:
    LedgerMachine.clerk = clerk
    run_state_machine_as_test(LedgerMachine, settings=settings(
        max_examples=30, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    ))
