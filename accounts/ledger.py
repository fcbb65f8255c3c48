"""The posting primitive: the only code that moves money.

Lock order, used by every caller in every app: cards (by id) -> pending loads ->
ledger accounts (by id) -> the blacklist counter. Entries are checked here and again
by PostgreSQL (deferred constraint trigger: each posting sums to zero; check
constraints: purses within 0..max_balance).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import (
    PURSE_KINDS,
    AccountKind,
    Card,
    Cardholder,
    Entry,
    LedgerAccount,
    Merchant,
    Posting,
)
from onecard.errors import BalanceLimitExceeded, InsufficientFunds

# A leg names its account by row, by id, or by its unique code (cheapest: the lock
# query finds it, so no separate lookup round trip).
Leg = tuple[LedgerAccount | int | str, int]

SINGLETON_ACCOUNTS = {
    AccountKind.BANK_CLEARING: "bank_clearing",
    AccountKind.ONLINE_CLEARING: "online_clearing",
    AccountKind.SUBSIDY_FUND: "subsidy_fund",
    AccountKind.DEPOSITS_HELD: "deposits_held",
    AccountKind.FEE_INCOME: "fee_income",
    AccountKind.REFUNDS: "refunds",
    AccountKind.SUSPENSE: "suspense",
}


def code_purse(cardholder_number: str, kind: AccountKind) -> str:
    return f"{kind}:{cardholder_number}"


def code_cash_drawer(user: Any) -> str:
    return f"cash_drawer:{user.pk}"


class UnbalancedPosting(ValueError):
    """A programming error: callers must hand over legs that sum to zero."""


def account_singleton(kind: AccountKind) -> LedgerAccount:
    code = SINGLETON_ACCOUNTS[kind]
    account, _created = LedgerAccount.objects.get_or_create(
        code=code, defaults={"kind": kind, "name": AccountKind(kind).label}
    )
    return account


def account_purse(cardholder: Cardholder, kind: AccountKind) -> LedgerAccount:
    assert kind in PURSE_KINDS
    account, _created = LedgerAccount.objects.get_or_create(
        cardholder=cardholder,
        kind=kind,
        defaults={
            "code": code_purse(cardholder.number, kind),
            "name": f"{AccountKind(kind).label} {cardholder.number}",
            "max_balance": settings.ONECARD_MAX_BALANCE,
        },
    )
    return account


def account_cash_drawer(user: Any) -> LedgerAccount:
    account, _created = LedgerAccount.objects.get_or_create(
        code=code_cash_drawer(user),
        defaults={
            "kind": AccountKind.CASH_DRAWER,
            "user": user,
            "name": f"{AccountKind.CASH_DRAWER.label} {user.get_username()}",
        },
    )
    return account


def account_merchant_payable(merchant: Merchant) -> LedgerAccount:
    account, _created = LedgerAccount.objects.get_or_create(
        code=f"merchant_payable:{merchant.code}",
        defaults={
            "kind": AccountKind.MERCHANT_PAYABLE,
            "merchant": merchant,
            "name": f"{AccountKind.MERCHANT_PAYABLE.label} {merchant.code}",
        },
    )
    return account


def _net_legs(legs: Iterable[Leg]) -> dict[int | str, int]:
    net: dict[int | str, int] = defaultdict(int)
    for account, amount in legs:
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise UnbalancedPosting("amounts are whole fen")
        net[account.pk if isinstance(account, LedgerAccount) else account] += amount
    return {acc: amt for acc, amt in net.items() if amt != 0}


def _lock_accounts(keys: Iterable[int | str], by: Any) -> dict[int | str, LedgerAccount]:
    """Lock the accounts in id order (the global lock order) in one query, creating a
    clerk's drawer or a system account named by code on first use."""
    keys = list(keys)
    ids = [k for k in keys if isinstance(k, int)]
    codes = [k for k in keys if isinstance(k, str)]
    for attempt in range(2):
        rows = list(
            LedgerAccount.objects.select_for_update()
            .filter(Q(pk__in=ids) | Q(code__in=codes))
            .order_by("pk")
        )
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
    singletons = {code: kind for kind, code in SINGLETON_ACCOUNTS.items()}
    if key in singletons:
        account_singleton(singletons[str(key)])
    elif isinstance(key, str) and key == code_cash_drawer(by):
        account_cash_drawer(by)


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
    net = _net_legs(legs)
    if sum(net.values()) != 0 or len(net) < 2:
        raise UnbalancedPosting(f"posting {key!r} does not balance: {net}")
    with transaction.atomic(savepoint=False):
        locked = _lock_accounts(net, by)
        by_id = {locked[k].pk: amount for k, amount in net.items()}
        if len(by_id) != len(net):
            raise UnbalancedPosting(f"posting {key!r} names one account twice")
        for account_id in sorted(by_id):
            _check_bounds(locked[account_id], by_id[account_id])
        posting = Posting(
            idempotency_key=key,
            kind=kind,
            memo=memo[:255],
            card=card,
            created_by=by if getattr(by, "pk", None) else None,
            created_at=timezone.now(),
        )
        _write(posting, by_id)
    return posting


def _check_bounds(account: LedgerAccount, delta: int) -> None:
    if account.kind not in PURSE_KINDS:
        return
    after = account.balance + delta
    if after < 0:
        raise InsufficientFunds(
            _("Account %(code)s holds %(balance)d fen; %(need)d needed.")
            % {"code": account.code, "balance": account.balance, "need": -delta}
        )
    limit = account.max_balance if account.max_balance is not None else settings.ONECARD_MAX_BALANCE
    limit = min(limit, settings.ONECARD_MAX_BALANCE)
    if after > limit:
        raise BalanceLimitExceeded(
            _("Account %(code)s would hold %(after)d fen, above the maximum of %(max)d.")
            % {"code": account.code, "after": after, "max": limit},
            maximum=limit,
        )


def _write(posting: Posting, by_id: dict[int, int]) -> None:
    """Posting, entries and balance changes: one statement on PostgreSQL."""
    ids, amounts = zip(*sorted(by_id.items()), strict=True)
    if connection.vendor != "postgresql":
        posting.save(force_insert=True)
        Entry.objects.bulk_create(
            [
                Entry(posting=posting, account_id=a, amount=d)
                for a, d in zip(ids, amounts, strict=True)
            ]
        )
        for account_id, delta in zip(ids, amounts, strict=True):
            LedgerAccount.objects.filter(pk=account_id).update(balance=F("balance") + delta)
        return
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH p AS (
                INSERT INTO accounts_posting
                    (idempotency_key, kind, memo, card_id, created_by_id, created_at)
                VALUES (%s, %s, %s, %s, %s, %s) RETURNING id
            ), e AS (
                INSERT INTO accounts_entry (posting_id, account_id, amount)
                SELECT p.id, v.a, v.d FROM p, unnest(%s::bigint[], %s::bigint[]) AS v(a, d)
            ), u AS (
                UPDATE accounts_ledgeraccount l SET balance = l.balance + v.d
                FROM unnest(%s::bigint[], %s::bigint[]) AS v(a, d) WHERE l.id = v.a
            )
            SELECT id FROM p
            """,
            [
                posting.idempotency_key,
                posting.kind,
                posting.memo,
                posting.card_id,
                posting.created_by_id,
                posting.created_at,
                list(ids),
                list(amounts),
                list(ids),
                list(amounts),
            ],
        )
        posting.pk = cur.fetchone()[0]
    posting._state.adding = False
    posting._state.db = connection.alias
