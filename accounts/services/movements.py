"""Money that already moved on a card: the accepted purse records a terminal uploads
(purchases, loads), applied to cards, pending loads and the ledger. The terminal ingest
(`terminals.ingest`) calls `card_movements_apply` inside its batch transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from accounts import ledger
from accounts.ledger_accounts import purse_account_of, suspense
from accounts.models import (
    LIVE_STATUSES,
    Card,
    LedgerAccount,
    LoadStatus,
    PendingLoad,
    PostingKind,
    Purse,
)
from core.db import bulk_cursor


class MovementType(StrEnum):
    """The purse record types, as `terminals.models.RecordType` names them (the accounts
    app sits below terminals, so it cannot import that)."""

    PURCHASE = "purchase"
    LOAD = "load"


POSTING_KIND = {MovementType.PURCHASE: PostingKind.RECORD_PURCHASE,
                MovementType.LOAD: PostingKind.RECORD_LOAD}


@dataclass
class CardMovement:
    """An accepted purse record, as the terminals app hands it over."""

    key: str  # the posting's idempotency key, e.g. "record:POS-0001:42"
    card_id: int
    type: str  # a MovementType: "purchase" or "load"
    purse: str
    amount: int
    card_seq: int
    load_id: str = ""  # a pending load written to the card
    # purchases: the merchant payable; cash loads: the terminal's cash box
    counter_account: str = ""
    posting_id: int | None = None  # reserved by the caller (ledger.posting_ids_reserve)


@dataclass
class MovementOutcome:
    ok: bool
    reason: str = ""
    detail: str = ""
    posting_id: int | None = None
    flags: list[str] = field(default_factory=list)


@dataclass
class _LockedCard:
    """A locked card's figures, as one row of the lock query: a batch locks hundreds of
    cards, and model instances for them cost more Python than the rest of the money's
    writes, all of it while the locks are held."""

    pk: int
    card_main: int
    card_subsidy: int
    card_seq: int
    status: str
    blacklisted: bool
    holder_number: str

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    def card_balance(self, purse: str) -> int:
        return self.card_main if purse == Purse.MAIN else self.card_subsidy


def _cards_read(ids: set[int], *, lock: bool) -> dict[int, _LockedCard]:
    """The cards' figures by id; with `lock`, locked in the global lock order."""
    query = Card.objects.filter(pk__in=ids).order_by("pk")
    if lock:
        query = query.select_for_update(of=("self",), no_key=True)
    rows = query.values_list("pk", "card_main", "card_subsidy", "card_seq", "status",
                             "blacklisted", "cardholder__number")
    return {row[0]: _LockedCard(*row) for row in rows}


def _load_refusal(
    load: PendingLoad | None, m: CardMovement, seen: set[str]
) -> MovementOutcome | None:
    if load is None or load.card_id != m.card_id:
        return MovementOutcome(False, "unknown_load", f"no pending load {m.load_id} for this card")
    if load.status == LoadStatus.COMPLETED or m.load_id in seen:
        return MovementOutcome(False, "load_already_completed")
    if load.status != LoadStatus.PENDING:
        return MovementOutcome(False, "unknown_load", f"load {m.load_id} is {load.status}")
    if (load.purse, load.amount) != (m.purse, m.amount):
        return MovementOutcome(
            False, "invalid",
            f"load {m.load_id} is {load.amount} fen to {load.purse}, "
            f"the record says {m.amount} to {m.purse}",
        )
    return None


def card_movements_reserve(*, movements: Sequence[CardMovement]) -> None:
    """Give each movement the id its posting will have (PostgreSQL): the caller may
    store what names the posting before `card_movements_apply` writes it, later in the
    same transaction, so the card and purse locks are held only for the money's writes.
    A pending load written to a card makes no posting (its money was posted at the
    top-up): it gets none."""
    posting = [m for m in movements if not m.load_id]
    for m, posting_id in zip(posting, ledger.posting_ids_reserve(len(posting)), strict=True):
        m.posting_id = posting_id


# From this many postings on, a batch writes them early (five round trips more, and its
# locks held for the balances alone); a live sale's few are written under the locks.
EARLY_WRITE_FROM = 20
EARLY_SAVEPOINT = "onecard_early_postings"


@dataclass
class _Figures:
    """What the money of a batch is decided from: its cards, pending loads and purses."""

    cards: dict[int, _LockedCard]
    loads: dict[str, PendingLoad]
    purses: dict[int | str, LedgerAccount]
    running: dict[str, int]  # each purse's balance, by code
    short: dict[tuple[int, str], int]


@dataclass
class _Plan:
    """The money of a batch as decided from its figures."""

    outcomes: list[MovementOutcome]
    specs: list[ledger.PostingSpec]
    spec_outcome: list[MovementOutcome]
    touched_loads: list[PendingLoad]
    cards: dict[int, _LockedCard]

    def ledger_rows(self) -> list[tuple[str, int | None, tuple[ledger.Leg, ...]]]:
        """What its postings and entries hold."""
        return [(s.key, s.posting_id, tuple(s.legs)) for s in self.specs]

    def counters(self, purses: dict[int | str, LedgerAccount]) -> set[str]:
        return {str(acc) for spec in self.specs for acc, _amount in spec.legs
                if acc not in purses}


def _figures(movements: Sequence[CardMovement], *, lock: bool) -> _Figures:
    """Cards by id, their pending loads, then their holders' purses: with `lock`, each
    locked in the global lock order."""
    cards = _cards_read({m.card_id for m in movements}, lock=lock)
    load_ids = {m.load_id for m in movements if m.load_id}
    loads: dict[str, PendingLoad] = {}
    if load_ids:
        query = PendingLoad.objects.filter(load_id__in=load_ids).order_by("pk")
        if lock:
            query = query.select_for_update(no_key=True)
        loads = {ld.load_id: ld for ld in query}
    moving = [m for m in movements if not m.load_id]
    codes = {purse_account_of(cards[m.card_id].holder_number, m.purse) for m in moving}
    purses = ledger.accounts_lock(codes) if lock else ledger.accounts_read(codes)
    running = {code: acc.balance for code, acc in purses.items() if isinstance(code, str)}
    return _Figures(cards, loads, purses, running, _purses_short(cards, running, moving))


def card_movements_apply(*, movements: Sequence[CardMovement]) -> list[MovementOutcome]:
    """Apply accepted purse records to cards, pending loads and the ledger, in order.

    The money already moved on the card, so nothing here refuses a purchase: a purse
    that the ledger says cannot cover it (records out of order, a cash load not yet
    uploaded) is debited to zero and the rest goes to suspense, flagged for
    reconciliation; likewise a cash load above the purse maximum. A cash load that
    arrives later first makes good what the purse was short of (back from suspense),
    so the purse ends equal to the card again. Locks: cards by id,
    loads, holder purses, then the counter accounts (the global order). The caller
    holds the transaction.

    Written early (PostgreSQL, posting ids reserved by `card_movements_reserve`): the
    postings and entries are decided from the figures read without locks and written
    first, with the deferred checks; then the figures are locked and the money decided
    again. Came out the same (nearly always: a purchase the purse covers is the same
    posting whatever the purse holds): only the balances are left to change under the
    locks. Otherwise the early write is rolled back to its savepoint and the postings
    are written as decided under the locks. Either way the result is the one decided
    under the locks; the locks are held for the balances and the commit alone."""
    if not movements:
        return []
    posting = [m for m in movements if not m.load_id]
    early = (connection.vendor == "postgresql" and len(posting) >= EARLY_WRITE_FROM
             and all(m.posting_id is not None for m in posting))
    first: _Plan | None = None
    first_counters: dict[int | str, LedgerAccount] = {}
    if early:
        # At least EARLY_WRITE_FROM movements make postings, whatever the figures say.
        figures = _figures(movements, lock=False)
        first = _plan(movements, figures)
        first_counters = ledger.accounts_read(first.counters(figures.purses))
        accounts = {**figures.purses, **first_counters}
        with connection.cursor() as cur:
            # Not released: the commit does, one round trip fewer under the locks.
            cur.execute(f"SAVEPOINT {EARLY_SAVEPOINT}")
        ledger.postings_insert(first.specs, accounts)
        ledger.deferred_checks_run()
        if _apply_as_decided(movements, figures, first, accounts):
            return first.outcomes
        # A figure moved since it was read: the early write is gone (rolled back to
        # its savepoint), and the batch is decided again under the locks.
        first = None
    figures = _figures(movements, lock=True)
    plan = _plan(movements, figures)
    if first is not None and first.ledger_rows() != plan.ledger_rows():
        # Decided otherwise under the locks: the early write goes, and with it the locks
        # taken since its savepoint (rolling a savepoint back releases them): taken again.
        _early_write_undo()
        first = None
        figures = _figures(movements, lock=True)
        plan = _plan(movements, figures)
    counters: list[tuple[int, int]] = []
    if plan.specs and connection.vendor == "postgresql":
        # The counters (a merchant's payable, shared by every till of the merchant) are
        # read here unlocked, and locked last by `counters_apply`: held for the commit
        # alone, so batches of one merchant do not queue while holding their purses.
        accounts = {**figures.purses, **(first_counters if first is not None
                                         else ledger.accounts_read(plan.counters(figures.purses)))}
        posting_ids: Sequence[int | None]
        if first is not None:
            posting_ids = [spec.posting_id for spec in plan.specs]
            counters = ledger.balances_apply(plan.specs, accounts)
        else:
            posting_ids, counters = ledger.postings_write_purses(plan.specs, accounts)
        _set_posting_ids(plan, posting_ids)
    elif plan.specs:
        locked = {**figures.purses, **ledger.accounts_lock(plan.counters(figures.purses))}
        _set_posting_ids(plan, ledger.postings_write(plan.specs, locked))
    _cards_save_balances(list(plan.cards.values()))
    if plan.touched_loads:
        _loads_save_completed(plan.touched_loads)
    ledger.counters_apply(counters)
    return plan.outcomes


def _apply_as_decided(movements: Sequence[CardMovement], figures: _Figures, first: _Plan,
                      accounts: dict[int | str, LedgerAccount]) -> bool:
    """The money of a batch written early, applied as decided from the unlocked read if
    what it was decided from still holds, with the locks held for three statements and
    the commit: the cards locked and moved by their own changes (the balances the card
    reports and its sequence are the card's, whatever the row held), then the purses
    locked in id order and moved only if each still holds what gives the same postings
    (at least what its purchases take when they were all covered; else exactly what was
    read), then the counters. A card whose listing changed, or a purse that moved out of
    its range, undoes it all (back to the early write's savepoint) and answers False.
    Batches that write pending loads or take cash loads are decided under the locks."""
    if any(m.type != MovementType.PURCHASE for m in movements):
        return False
    if not _cards_move(first.cards, movements):
        _early_write_undo()
        return False
    counters = ledger.balances_apply_within(first.specs, accounts,
                                            _purse_ranges(first, figures))
    if counters is None:
        _early_write_undo()
        return False
    _set_posting_ids(first, [spec.posting_id for spec in first.specs])
    ledger.counters_apply(counters)
    return True


def _early_write_undo() -> None:
    with connection.cursor() as cur:
        cur.execute(f"ROLLBACK TO SAVEPOINT {EARLY_SAVEPOINT}")


def _purse_ranges(plan: _Plan, figures: _Figures) -> dict[int, tuple[int, int]]:
    """Per purse id, the balances (low, high) between which the plan's postings come out
    the same: purchases all covered are the same postings from any balance that covers
    them all; anything else (a shortfall to suspense) only from the balance it was
    decided from."""
    taken: dict[int, int] = {}
    exact: set[int] = set()
    purses = figures.purses
    for spec in plan.specs:
        purse_legs = [(purses[acc].pk, amount) for acc, amount in spec.legs
                      if isinstance(acc, str | int) and acc in purses]
        covered = len(spec.legs) == 2
        for account_id, amount in purse_legs:
            taken[account_id] = taken.get(account_id, 0) - amount
            if amount > 0 or not covered:
                exact.add(account_id)
    by_id = {acc.pk: acc for acc in purses.values()}
    return {a: ((by_id[a].balance, by_id[a].balance) if a in exact else (total, ledger.NO_LIMIT))
            for a, total in taken.items()}


def _cards_move(cards: dict[int, _LockedCard], movements: Sequence[CardMovement]) -> bool:
    """Lock the batch's cards in id order and move each by the batch's own changes (one
    statement); False if a card's listing is no longer what the batch was decided from
    (its records' flags would differ)."""
    main: dict[int, int] = dict.fromkeys(cards, 0)
    subsidy: dict[int, int] = dict.fromkeys(cards, 0)
    seq: dict[int, int] = dict.fromkeys(cards, 0)
    for m in movements:
        change = -m.amount if m.type == MovementType.PURCHASE else m.amount
        (main if m.purse == Purse.MAIN else subsidy)[m.card_id] += change
        seq[m.card_id] = max(seq[m.card_id], m.card_seq)
    ids = sorted(cards)
    with bulk_cursor() as cur:
        cur.execute(
            "WITH locked AS MATERIALIZED (SELECT id FROM accounts_card "
            "WHERE id = ANY(%b::bigint[]) ORDER BY id FOR NO KEY UPDATE) "
            "UPDATE accounts_card c SET card_main = c.card_main + v.m, "
            "card_subsidy = c.card_subsidy + v.s, card_seq = GREATEST(c.card_seq, v.q), "
            "updated_at = %s FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], "
            "%b::bigint[]) AS v(id, m, s, q), locked "
            "WHERE c.id = v.id AND locked.id = v.id RETURNING c.id, c.blacklisted",
            [ids, timezone.now(), ids, [main[i] for i in ids], [subsidy[i] for i in ids],
             [seq[i] for i in ids]],
        )
        listed = dict(cur.fetchall())
    return len(listed) == len(ids) and all(
        listed[i] == cards[i].blacklisted for i in ids)


def _set_posting_ids(plan: _Plan, posting_ids: Sequence[int | None]) -> None:
    for outcome, posting_id in zip(plan.spec_outcome, posting_ids, strict=True):
        outcome.posting_id = posting_id


def _plan(movements: Sequence[CardMovement], figures: _Figures) -> _Plan:
    """Decide each movement from the figures (the cards' figures move as it goes)."""
    cards, loads, purses = figures.cards, figures.loads, figures.purses
    running, short = dict(figures.running), dict(figures.short)
    outcomes: list[MovementOutcome] = []
    specs: list[ledger.PostingSpec] = []
    spec_outcome: list[MovementOutcome] = []
    seen_loads: set[str] = set()
    touched_loads: list[PendingLoad] = []
    for m in movements:
        card = cards[m.card_id]
        if m.load_id:
            refusal = _load_refusal(loads.get(m.load_id), m, seen_loads)
            if refusal:
                outcomes.append(refusal)
                continue
            load = loads[m.load_id]
            load.status, load.closed_at = LoadStatus.COMPLETED, timezone.now()
            seen_loads.add(m.load_id)
            touched_loads.append(load)
            outcome = MovementOutcome(True)
        else:
            code, key = purse_account_of(card.holder_number, m.purse), (m.card_id, m.purse)
            legs, flags = _movement_legs(m, code, running[code], purses[code].max_balance,
                                         short.get(key, 0))
            delta = sum(amount for acc, amount in legs if acc == code)
            running[code] += delta
            if key in short:  # what the purse moved beyond the card's own change
                short[key] += delta - (m.amount if m.type == MovementType.LOAD else -m.amount)
            specs.append(ledger.PostingSpec(key=m.key, kind=POSTING_KIND[MovementType(m.type)],
                                            legs=legs, card_id=card.pk, memo=m.key,
                                            posting_id=m.posting_id))
            outcome = MovementOutcome(True, flags=flags)
            spec_outcome.append(outcome)
        sign = -1 if m.type == MovementType.PURCHASE else 1
        setattr(card, f"card_{m.purse}", card.card_balance(m.purse) + sign * m.amount)
        card.card_seq = max(card.card_seq, m.card_seq)
        if card.blacklisted:
            outcome.flags.append("blacklisted_card")
        outcomes.append(outcome)
    return _Plan(outcomes, specs, spec_outcome, touched_loads, cards)


def _cards_save_balances(cards: list[_LockedCard]) -> None:
    """One UPDATE for all cards of a batch (Django's bulk_update builds a CASE per row
    and per field, which costs more in Python than the whole batch does in SQL)."""
    if connection.vendor != "postgresql":
        Card.objects.bulk_update(
            [Card(pk=c.pk, card_main=c.card_main, card_subsidy=c.card_subsidy,
                  card_seq=c.card_seq) for c in cards], ["card_main", "card_subsidy", "card_seq"])
        return
    with bulk_cursor() as cur:
        cur.execute(
            "UPDATE accounts_card c SET card_main = v.m, card_subsidy = v.s, card_seq = v.q, "
            "updated_at = %s FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], "
            "%b::bigint[]) AS v(id, m, s, q) WHERE c.id = v.id",
            [timezone.now(), [c.pk for c in cards], [c.card_main for c in cards],
             [c.card_subsidy for c in cards], [c.card_seq for c in cards]],
        )


def _loads_save_completed(loads: list[PendingLoad]) -> None:
    ids = [ld.pk for ld in loads]
    PendingLoad.objects.filter(pk__in=ids).update(
        status=LoadStatus.COMPLETED, closed_at=loads[0].closed_at
    )


def _purses_short(cards: dict[int, _LockedCard], running: dict[Any, int],
                  moving: Sequence[CardMovement]) -> dict[tuple[int, str], int]:
    """Per live card and purse taking a cash load: how much the holder's purse holds
    above the card plus its pending loads, i.e. what earlier purchases went short of
    (to suspense) because the cash load that paid for them had not arrived yet."""
    keys = {(m.card_id, m.purse) for m in moving
            if m.type == MovementType.LOAD and cards[m.card_id].is_live}
    if not keys:
        return {}
    pending = {(c, p): int(t) for c, p, t in PendingLoad.objects.filter(
        card_id__in={c for c, _p in keys}, status=LoadStatus.PENDING)
        .values("card_id", "purse").annotate(t=Sum("amount"))
        .values_list("card_id", "purse", "t")}
    return {(c, p): running[purse_account_of(cards[c].holder_number, p)] - cards[c].card_balance(p)
            - pending.get((c, p), 0) for c, p in keys}


def _movement_legs(m: CardMovement, purse: str, balance: int, max_balance: int | None,
                   short: int = 0) -> tuple[list[ledger.Leg], list[str]]:
    if m.type == MovementType.PURCHASE:
        covered = min(m.amount, max(balance, 0))
        legs: list[ledger.Leg] = [(purse, -covered), (m.counter_account, m.amount)]
        if covered < m.amount:
            return [*legs, (suspense(), covered - m.amount)], ["purse_shortfall"]
        return legs, []
    limit = min(max_balance or settings.ONECARD_MAX_BALANCE, settings.ONECARD_MAX_BALANCE)
    room = max(limit - balance, 0)
    made_good = min(m.amount, max(short, 0))
    credited = min(m.amount - made_good, room)
    legs = [(m.counter_account, -m.amount), (purse, credited)]
    flags = ["shortfall_made_good"] if made_good else []
    if credited < m.amount - made_good:
        flags.append("purse_overflow")
    if credited < m.amount:
        return [*legs, (suspense(), m.amount - credited)], flags
    return legs, flags
