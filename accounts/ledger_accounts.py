"""The ledger's address book: the code of every ledger account, from what it belongs to.

A posting's leg may name its account by code (`accounts.ledger.Leg`), the cheapest way:
the lock query finds the row, and `ledger.accounts_lock` opens a system account, a
clerk's drawer, a merchant's payable or a terminal's cash box on first use. Every code
is built here and nowhere else, so a code in the database always reads
`<AccountKind>` (system accounts, one each) or `<AccountKind>:<owner>`.
"""

from __future__ import annotations

from typing import Any

from accounts.models import PURSE_ACCOUNT_KIND, AccountKind, Cardholder, Purse

# The accounts there is one of; each one's code is its kind.
SYSTEM_KINDS = (
    AccountKind.BANK_CLEARING,
    AccountKind.ONLINE_CLEARING,
    AccountKind.SUBSIDY_FUND,
    AccountKind.DEPOSITS_HELD,
    AccountKind.FEE_INCOME,
    AccountKind.REFUNDS,
    AccountKind.SUSPENSE,
)


def _owned(kind: AccountKind, owner: object) -> str:
    return f"{kind}:{owner}"


def parse(code: str) -> tuple[AccountKind | None, str]:
    """The kind a code names and its owner part ("" for a system account); None for a
    code this book does not make."""
    prefix, _sep, owner = code.partition(":")
    if prefix not in AccountKind.values:
        return None, owner
    kind = AccountKind(prefix)
    if (kind in SYSTEM_KINDS) != (owner == ""):
        return None, owner
    return kind, owner


# --- Owned accounts ---------------------------------------------------------------------


def purse_account(holder: Cardholder, purse: str) -> str:
    """A holder's `main` or `subsidy` purse."""
    return purse_account_of(holder.number, purse)


def purse_account_of(number: str, purse: str) -> str:
    """The purse of the holder with that number."""
    return _owned(PURSE_ACCOUNT_KIND[Purse(purse)], number)


def cash_drawer_account(user: Any) -> str:
    """A clerk's cash drawer (negative: the cash it holds)."""
    return _owned(AccountKind.CASH_DRAWER, user.pk)


def merchant_payable_account(merchant_code: str) -> str:
    """What is owed to a merchant until settlement."""
    return _owned(AccountKind.MERCHANT_PAYABLE, merchant_code)


def terminal_cash_account(terminal_id: str) -> str:
    """A kiosk's cash box (negative: the cash it holds)."""
    return _owned(AccountKind.TERMINAL_CASH, terminal_id)


# --- System accounts --------------------------------------------------------------------


def system_account(kind: AccountKind) -> str:
    assert kind in SYSTEM_KINDS
    return str(kind.value)


def bank_clearing() -> str:
    return system_account(AccountKind.BANK_CLEARING)


def online_clearing() -> str:
    return system_account(AccountKind.ONLINE_CLEARING)


def subsidy_fund() -> str:
    return system_account(AccountKind.SUBSIDY_FUND)


def deposits_held() -> str:
    return system_account(AccountKind.DEPOSITS_HELD)


def fee_income() -> str:
    return system_account(AccountKind.FEE_INCOME)


def refunds_payable() -> str:
    return system_account(AccountKind.REFUNDS)


def suspense() -> str:
    return system_account(AccountKind.SUSPENSE)
