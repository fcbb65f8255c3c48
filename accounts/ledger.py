"""The posting primitive: the only code that moves money.

Lock order, used by every caller in every app: terminal -> cards (by id) -> pending
loads -> ledger accounts (holder purses by id, then the others by id) -> the
blacklist counter. Entries are checked here and again
by PostgreSQL (deferred constraint trigger: each posting sums to zero; check
constraints: purses within 0..max_balance).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import ledger_accounts as book
from accounts.errors import BalanceLimitExceeded, InsufficientFunds
from accounts.models import (
    PURSE_ACCOUNT_KIND,
    PURSE_KINDS,
    AccountKind,
    Card,
    Cardholder,
    Entry,
    LedgerAccount,
    Merchant,
    Posting,
    Purse,
)
from core.db import bulk_cursor

# A leg names its account by row, by id, or by its unique code (cheapest: the lock
# query finds it, so no separate lookup round trip).
Leg = tuple[LedgerAccount | int | str, int]


class UnbalancedPosting(ValueError):
    """A programming error: callers must hand over legs that sum to zero."""


# --- Account rows (codes come from the address book, accounts.ledger_accounts) ---------


def account_singleton(kind: AccountKind) -> LedgerAccount:
    account, _created = LedgerAccount.objects.get_or_create(
        code=book.system_account(kind), defaults={"kind": kind, "name": AccountKind(kind).label}
    )
    return account


def account_purse(cardholder: Cardholder, purse: str) -> LedgerAccount:
    kind = PURSE_ACCOUNT_KIND[Purse(purse)]
    account, _created = LedgerAccount.objects.get_or_create(
        cardholder=cardholder,
        kind=kind,
        defaults={
            "code": book.purse_account(cardholder, purse),
            "name": f"{kind.label} {cardholder.number}",
            "max_balance": settings.ONECARD_MAX_BALANCE,
        },
    )
    return account


def account_cash_drawer(user: Any) -> LedgerAccount:
    account, _created = LedgerAccount.objects.get_or_create(
        code=book.cash_drawer_account(user),
        defaults={
            "kind": AccountKind.CASH_DRAWER,
            "user": user,
            "name": f"{AccountKind.CASH_DRAWER.label} {user.get_username()}",
        },
    )
    return account


def account_merchant_payable(merchant: Merchant) -> LedgerAccount:
    account, _created = LedgerAccount.objects.get_or_create(
        code=book.merchant_payable_account(merchant.code),
        defaults={
            "kind": AccountKind.MERCHANT_PAYABLE,
            "merchant": merchant,
            "name": f"{AccountKind.MERCHANT_PAYABLE.label} {merchant.code}",
        },
    )
    return account


def account_terminal_cash(terminal_id: str) -> LedgerAccount:
    account, _created = LedgerAccount.objects.get_or_create(
        code=book.terminal_cash_account(terminal_id),
        defaults={"kind": AccountKind.TERMINAL_CASH,
                  "name": f"{AccountKind.TERMINAL_CASH.label} {terminal_id}"},
    )
    return account


def _net_legs(legs: Iterable[Leg]) -> dict[int | str, int]:
    net: dict[int | str, int] = defaultdict(int)
    for account, amount in legs:
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise UnbalancedPosting("amounts are whole fen")
        net[account.pk if isinstance(account, LedgerAccount) else account] += amount
    return {acc: amt for acc, amt in net.items() if amt != 0}


# The global lock order of ledger accounts: holder purses first, then every other
# account, each group by id. Terminal batches lock purses, decide, then lock the
# merchant payables, cash boxes and suspense they need: the same order.
PURSES_FIRST = Case(When(kind__in=PURSE_KINDS, then=Value(0)), default=Value(1))


def accounts_lock(keys: Iterable[int | str], by: Any = None) -> dict[int | str, LedgerAccount]:
    """Lock the accounts in the global lock order in one query, creating a
    clerk's drawer, a merchant's payable, a terminal's cash box or a system account
    named by code on first use. The answer maps both ids and codes to rows."""
    return _accounts(keys, by, lock=True)


def accounts_read(keys: Iterable[int | str], by: Any = None) -> dict[int | str, LedgerAccount]:
    """The same rows without their locks: for postings written before their balances
    are locked (the ingest's early write, `postings_insert`); their balances are only
    a first guess, re-read under `accounts_lock`."""
    return _accounts(keys, by, lock=False)


def _accounts(keys: Iterable[int | str], by: Any, *, lock: bool) -> dict[int | str, LedgerAccount]:
    keys = list(dict.fromkeys(keys))
    ids = [k for k in keys if isinstance(k, int)]
    codes = [k for k in keys if isinstance(k, str)]
    missing: list[int | str] = []
    for attempt in range(2):
        query = LedgerAccount.objects.filter(Q(pk__in=ids) | Q(code__in=codes))
        if lock:
            query = query.select_for_update(no_key=True).order_by(PURSES_FIRST, "pk")
        rows = list(query)
        found: dict[int | str, LedgerAccount] = {a.pk: a for a in rows}
        found.update({a.code: a for a in rows})
        missing = [k for k in keys if k not in found]
        if not missing:
            return found
        if attempt == 0:
            for code in missing:
                _create_by_code(code, by)
    raise LedgerAccount.DoesNotExist(f"no ledger accounts {missing}")


def _create_by_code(key: int | str, by: Any) -> None:
    if not isinstance(key, str):
        return
    kind, owner = book.parse(key)
    if kind in book.SYSTEM_KINDS:
        account_singleton(kind)
    elif kind == AccountKind.CASH_DRAWER and by is not None and key == book.cash_drawer_account(by):
        account_cash_drawer(by)
    elif kind == AccountKind.MERCHANT_PAYABLE:
        merchant = Merchant.objects.filter(code=owner).first()
        if merchant is not None:
            account_merchant_payable(merchant)
    elif kind == AccountKind.TERMINAL_CASH:
        account_terminal_cash(owner)


@dataclass
class PostingSpec:
    """One posting to write: legs name accounts by row, id or code."""

    key: str
    kind: str
    legs: Sequence[Leg]
    card_id: int | None = None
    memo: str = ""
    posting_id: int | None = None  # reserved beforehand (`posting_ids_reserve`), or new


def posting_ids_reserve(count: int) -> list[int]:
    """`count` posting ids from the postings' own sequence, for postings written later in
    the same transaction (the ingest stores its records first, naming their postings,
    and takes the balance locks only at the end). PostgreSQL only."""
    if count <= 0:
        return []
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence('accounts_posting', 'id')) "
                    "FROM generate_series(1, %s)", [count])
        return [int(row[0]) for row in cur.fetchall()]


def posting_create(
    *,
    key: str,
    kind: str,
    legs: Sequence[Leg],
    by: Any = None,
    card: Card | None = None,
    memo: str = "",
) -> Posting:
    """Write one balanced posting and move the cached balances, all or nothing.

    Callers are inside a transaction (every service is). No savepoint of its own: a
    caller that wants to go on after a refusal wraps the call in `transaction.atomic()`."""
    spec = PostingSpec(key=key, kind=kind, legs=legs, card_id=card.pk if card else None,
                       memo=memo)
    net = _net_legs(legs)
    if sum(net.values()) != 0 or len(net) < 2:  # a caller's bug: refuse before any query
        raise UnbalancedPosting(f"posting {key!r} does not balance: {net}")
    with transaction.atomic(savepoint=False):
        locked = accounts_lock(net, by)
        [posting_id] = postings_write([spec], locked, by=by)
    posting = Posting(
        pk=posting_id, idempotency_key=key, kind=kind, memo=memo[:255], card=card,
        created_by=by if getattr(by, "pk", None) else None,
    )
    posting._state.adding = False
    posting._state.db = connection.alias
    return posting


def postings_write(
    specs: Sequence[PostingSpec], locked: dict[int | str, LedgerAccount], *, by: Any = None
) -> list[int]:
    """Write many postings at once over accounts already locked by `accounts_lock`.

    Each posting must balance, and each purse must stay within its bounds after every
    posting in order (the running balances are checked here, the final ones again by
    PostgreSQL). On PostgreSQL all postings, entries and balance changes are one
    statement. Returns the posting ids in order."""
    rows = _rows(specs, locked, bounds=True)
    created_by = by.pk if getattr(by, "pk", None) else None
    if connection.vendor == "postgresql":
        return _write_postgresql(rows, created_by)
    return _write_portable(rows, created_by)


def postings_insert(specs: Sequence[PostingSpec], accounts: dict[int | str, LedgerAccount]
                    ) -> list[int]:
    """The postings and their entries, without their balance changes (PostgreSQL):
    written before the accounts they move are locked, so the locks are held only for
    `balances_apply` and `counters_apply`. Bounds are not checked here: the caller
    decides the postings under the purses' locks and applies them with `balances_apply`
    (which checks them) if they came out the same, or rolls this write back. Returns
    the posting ids in order (reserved ones, or new)."""
    return _write_postgresql(_rows(specs, accounts, bounds=False), None, changes=[])


def postings_write_purses(specs: Sequence[PostingSpec], locked: dict[int | str, LedgerAccount]
                          ) -> tuple[list[int], list[tuple[int, int]]]:
    """`postings_write` over purses locked by `accounts_lock` and the other accounts
    read without a lock (PostgreSQL): bounds checked, postings, entries and the purses'
    balances in one statement; the other accounts' changes are returned for
    `counters_apply`, which the caller runs last. Returns (posting ids in order, those
    changes)."""
    rows = _rows(specs, locked, bounds=True)
    purses, counters = _purses_and_counters(_balance_changes(rows), locked)
    return _write_postgresql(rows, None, changes=purses), counters


def balances_apply(specs: Sequence[PostingSpec], locked: dict[int | str, LedgerAccount]
                   ) -> list[tuple[int, int]]:
    """The purses' balance changes of postings written by `postings_insert`, over purses
    now locked by `accounts_lock`: bounds checked on the locked balances as
    `postings_write` does, then one UPDATE. The other accounts' changes (merchant
    payables, cash boxes, suspense: no bounds, shared by many batches) are returned
    for `counters_apply`, which the caller runs last so that they are locked only
    for the commit."""
    purses, counters = _purses_and_counters(
        _balance_changes(_rows(specs, locked, bounds=True)), locked)
    if purses:
        with bulk_cursor() as cur:
            cur.execute(
                "UPDATE accounts_ledgeraccount l SET balance = l.balance + v.d "
                "FROM unnest(%b::bigint[], %b::bigint[]) AS v(a, d) WHERE l.id = v.a",
                [[a for a, _d in purses], [d for _a, d in purses]],
            )
    return counters


NO_LIMIT = 2**63 - 1  # bigint's largest: a range without an upper end


def balances_apply_within(specs: Sequence[PostingSpec], accounts: dict[int | str, LedgerAccount],
                          ranges: dict[int, tuple[int, int]]) -> list[tuple[int, int]] | None:
    """The purses' balance changes of postings written by `postings_insert`, in one
    statement that locks the purses in id order and moves them only if every purse
    still holds a balance within its range (low, high), the balances the postings were
    decided for: the purses are locked for this statement and the commit alone. Each
    purse the postings move needs its range. Returns the other accounts' changes for
    `counters_apply`, or None if a purse was out of its range (nothing moved)."""
    purses, counters = _purses_and_counters(
        _balance_changes(_rows(specs, accounts, bounds=False)), accounts)
    if not {a for a, _d in purses} <= set(ranges):
        raise ValueError("balances_apply_within: each purse moved needs its range")
    if ranges:
        ids = sorted(ranges)
        with bulk_cursor() as cur:
            cur.execute(
                """
                WITH locked AS MATERIALIZED (
                    SELECT id, balance FROM accounts_ledgeraccount
                    WHERE id = ANY(%b::bigint[]) ORDER BY id FOR NO KEY UPDATE
                ), outside AS (
                    SELECT count(*) AS n FROM locked
                    JOIN unnest(%b::bigint[], %b::bigint[], %b::bigint[]) AS r(a, lo, hi)
                        ON locked.id = r.a
                    WHERE locked.balance < r.lo OR locked.balance > r.hi
                ), moved AS (
                    UPDATE accounts_ledgeraccount l SET balance = l.balance + v.d
                    FROM unnest(%b::bigint[], %b::bigint[]) AS v(a, d), outside
                    WHERE outside.n = 0 AND l.id = v.a
                    RETURNING l.id
                )
                SELECT (SELECT n FROM outside), (SELECT count(*) FROM locked),
                    (SELECT count(*) FROM moved)
                """,
                [ids, ids, [ranges[a][0] for a in ids], [ranges[a][1] for a in ids],
                 [a for a, _d in purses], [d for _a, d in purses]],
            )
            row = cur.fetchone()
            assert row is not None
            outside, locked, moved = row
            if outside or locked != len(ids):
                return None
            assert moved == len(purses)
    return counters


def _purses_and_counters(changed: list[tuple[int, int]], accounts: dict[int | str, LedgerAccount]
                         ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Balance changes split: the holder purses' (locked with the cards), the others'
    (`counters_apply`, last)."""
    purses = [(a, d) for a, d in changed if accounts[a].kind in PURSE_KINDS]
    return purses, [(a, d) for a, d in changed if accounts[a].kind not in PURSE_KINDS]


def counters_apply(changes: Sequence[tuple[int, int]]) -> None:
    """Move accounts without bounds (from `balances_apply`), locking them now in id
    order: the last lock a batch takes, after every purse of the global lock order."""
    if not changes:
        return
    with bulk_cursor() as cur:
        cur.execute(
            "WITH locked AS MATERIALIZED (SELECT id FROM accounts_ledgeraccount "
            "WHERE id = ANY(%b::bigint[]) ORDER BY id FOR NO KEY UPDATE) "
            "UPDATE accounts_ledgeraccount l SET balance = l.balance + v.d "
            "FROM unnest(%b::bigint[], %b::bigint[]) AS v(a, d), locked "
            "WHERE l.id = v.a AND locked.id = v.a",
            [[a for a, _d in changes], [a for a, _d in changes], [d for _a, d in changes]],
        )


def _balance_changes(rows: list[tuple[PostingSpec, dict[int, int]]]) -> list[tuple[int, int]]:
    """(account id, change) of every account the postings move, by id."""
    totals: dict[int, int] = defaultdict(int)
    for _spec, net in rows:
        for account_id, amount in net.items():
            totals[account_id] += amount
    return sorted((a, d) for a, d in totals.items() if d)


def _rows(specs: Sequence[PostingSpec], accounts: dict[int | str, LedgerAccount], *,
          bounds: bool) -> list[tuple[PostingSpec, dict[int, int]]]:
    """Each posting's net amount per account id, checked to balance; with `bounds`,
    each purse checked to stay within its bounds after every posting in order."""
    rows: list[tuple[PostingSpec, dict[int, int]]] = []
    running = {a.pk: a.balance for a in accounts.values()}
    for spec in specs:
        net = _net_legs(spec.legs)
        if sum(net.values()) != 0 or len(net) < 2:
            raise UnbalancedPosting(f"posting {spec.key!r} does not balance: {net}")
        by_id: dict[int, int] = defaultdict(int)
        for account_key, amount in net.items():
            by_id[accounts[account_key].pk] += amount
        if bounds:
            for account_id in sorted(by_id):
                _check_bounds(accounts[account_id], running[account_id], by_id[account_id])
                running[account_id] += by_id[account_id]
        rows.append((spec, dict(by_id)))
    return rows


def deferred_checks_run() -> None:
    """Run the deferred checks queued so far in this transaction now (the postings'
    balance check, the foreign keys), and defer those that follow again (PostgreSQL):
    the ingest runs them before it takes its locks, so the commit that ends the locks
    has little left to check. Every deferrable constraint of the schema is initially
    deferred, so ALL DEFERRED is where the transaction began."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")


def _check_bounds(account: LedgerAccount, balance: int, delta: int) -> None:
    if account.kind not in PURSE_KINDS:
        return
    after = balance + delta
    if after < 0:
        raise InsufficientFunds(
            _("Account %(code)s holds %(balance)d fen; %(need)d needed.")
            % {"code": account.code, "balance": balance, "need": -delta}
        )
    limit = account.max_balance if account.max_balance is not None else settings.ONECARD_MAX_BALANCE
    limit = min(limit, settings.ONECARD_MAX_BALANCE)
    if after > limit:
        raise BalanceLimitExceeded(
            _("Account %(code)s would hold %(after)d fen, above the maximum of %(max)d.")
            % {"code": account.code, "after": after, "max": limit},
            maximum=limit,
        )


def _write_postgresql(rows: list[tuple[PostingSpec, dict[int, int]]],
                      created_by: int | None, *,
                      changes: list[tuple[int, int]] | None = None) -> list[int]:
    now = timezone.now()
    keys = [spec.key for spec, _net in rows]
    reserved = [spec.posting_id for spec, _net in rows]
    if any(i is None for i in reserved) and any(i is not None for i in reserved):
        raise ValueError("postings_write: either every posting has a reserved id or none")
    entry_keys, entry_accounts, entry_amounts = [], [], []
    for spec, net in rows:
        for account_id, amount in sorted(net.items()):
            entry_keys.append(spec.key)
            entry_accounts.append(account_id)
            entry_amounts.append(amount)
    changed = _balance_changes(rows) if changes is None else changes
    with bulk_cursor() as cur:
        cur.execute(
            """
            WITH p AS (
                INSERT INTO accounts_posting
                    (id, idempotency_key, kind, memo, card_id, created_by_id, created_at)
                SELECT COALESCE(i, nextval(pg_get_serial_sequence('accounts_posting', 'id'))),
                    k, kind, memo, card, %s, %s
                FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::bigint[])
                    AS v(i, k, kind, memo, card)
                RETURNING id, idempotency_key
            ), e AS (
                INSERT INTO accounts_entry (posting_id, account_id, amount)
                SELECT p.id, v.a, v.d
                FROM unnest(%b::text[], %b::bigint[], %b::bigint[]) AS v(k, a, d)
                JOIN p ON p.idempotency_key = v.k
            ), u AS (
                UPDATE accounts_ledgeraccount l SET balance = l.balance + v.d
                FROM unnest(%b::bigint[], %b::bigint[]) AS v(a, d) WHERE l.id = v.a
            )
            SELECT id, idempotency_key FROM p
            """,
            [
                created_by, now, reserved, keys, [spec.kind for spec, _n in rows],
                [spec.memo[:255] for spec, _n in rows], [spec.card_id for spec, _n in rows],
                entry_keys, entry_accounts, entry_amounts,
                [a for a, _d in changed], [d for _a, d in changed],
            ],
        )
        ids = dict((k, i) for i, k in cur.fetchall())
    return [ids[k] for k in keys]


def _write_portable(rows: list[tuple[PostingSpec, dict[int, int]]],
                    created_by: int | None) -> list[int]:
    """The same writes through the ORM, for the SQLite demo."""
    ids = []
    for spec, net in rows:
        posting = Posting.objects.create(
            idempotency_key=spec.key, kind=spec.kind, memo=spec.memo[:255],
            card_id=spec.card_id, created_by_id=created_by,
        )
        Entry.objects.bulk_create(
            [Entry(posting=posting, account_id=a, amount=d) for a, d in sorted(net.items())]
        )
        for account_id, delta in net.items():
            LedgerAccount.objects.filter(pk=account_id).update(balance=F("balance") + delta)
        ids.append(posting.pk)
    return ids
