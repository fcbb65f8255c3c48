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
from django.db.models import F
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

Leg = tuple[LedgerAccount | int, int]

SINGLETON_ACCOUNTS = {
    AccountKind.BANK_CLEARING: "bank_clearing",
    AccountKind.ONLINE_CLEARING: "online_clearing",
    AccountKind.SUBSIDY_FUND: "subsidy_fund",
    AccountKind.DEPOSITS_HELD: "deposits_held",
    AccountKind.FEE_INCOME: "fee_income",
    AccountKind.REFUNDS: "refunds",
    AccountKind.SUSPENSE: "suspense",
}


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
            "code": f"{kind}:{cardholder.number}",
            "name": f"{AccountKind(kind).label} {cardholder.number}",
            "max_balance": settings.ONECARD_MAX_BALANCE,
        },
    )
    return account


def account_cash_drawer(user: Any) -> LedgerAccount:
    account, _created = LedgerAccount.objects.get_or_create(
        code=f"cash_drawer:{user.pk}",
        defaults={"kind": AccountKind.CASH_DRAWER, "user": user,
                  "name": f"{AccountKind.CASH_DRAWER.label} {user.get_username()}"},
    )
    return account


def account_merchant_payable(merchant: Merchant) -> LedgerAccount:
    account, _created = LedgerAccount.objects.get_or_create(
        code=f"merchant_payable:{merchant.code}",
        defaults={"kind": AccountKind.MERCHANT_PAYABLE, "merchant": merchant,
                  "name": f"{AccountKind.MERCHANT_PAYABLE.label} {merchant.code}"},
    )
    return account


def _net_legs(legs: Iterable[Leg]) -> dict[int, int]:
    net: dict[int, int] = defaultdict(int)
    for account, amount in legs:
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise UnbalancedPosting("amounts are whole fen")
        net[account if isinstance(account, int) else account.pk] += amount
    return {acc: amt for acc, amt in net.items() if amt != 0}


def posting_create(
    *,
    key: str,
    kind: str,
    legs: Sequence[Leg],
    by: Any = None,
    card: Card | None = None,
    memo: str = "",
) -> Posting:
    """Write one balanced posting and move the cached balances, all or nothing."""
    net = _net_legs(legs)
    if sum(net.values()) != 0 or len(net) < 2:
        raise UnbalancedPosting(f"posting {key!r} does not balance: {net}")
    with transaction.atomic():
        locked = {
            a.pk: a
            for a in LedgerAccount.objects.select_for_update().filter(pk__in=net).order_by("pk")
        }
        for account_id in sorted(net):
            _check_bounds(locked[account_id], net[account_id])
        posting = Posting.objects.create(
            idempotency_key=key, kind=kind, memo=memo[:255], card=card,
            created_by=by if getattr(by, "pk", None) else None,
        )
        Entry.objects.bulk_create(
            [Entry(posting=posting, account_id=acc, amount=amt) for acc, amt in sorted(net.items())]
        )
        _apply_balances(net)
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


def _apply_balances(net: dict[int, int]) -> None:
    """One statement on PostgreSQL; the rows are already locked in id order."""
    if connection.vendor == "postgresql" and len(net) > 2:
        values = ", ".join(["(%s::bigint, %s::bigint)"] * len(net))
        params: list[int] = [x for pair in sorted(net.items()) for x in pair]
        with connection.cursor() as cur:
            cur.execute(
                f"UPDATE accounts_ledgeraccount a SET balance = a.balance + v.delta "  # noqa: S608
                f"FROM (VALUES {values}) AS v(id, delta) WHERE a.id = v.id",
                params,
            )
        return
    for account_id, delta in sorted(net.items()):
        LedgerAccount.objects.filter(pk=account_id).update(balance=F("balance") + delta)
