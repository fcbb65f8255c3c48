"""What more than one topic of the accounts services needs."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from accounts.ledger_accounts import bank_clearing, cash_drawer_account, online_clearing
from accounts.models import TopUpMethod
from core.errors import InvalidRequest


def money_source(method: str, by: Any) -> str:
    """The account money comes from for a payment method (a deposit or a top-up): the
    clerk's drawer, bank clearing or online clearing."""
    if method == TopUpMethod.CASH:
        return cash_drawer_account(by)
    if method == TopUpMethod.BANK:
        return bank_clearing()
    if method == TopUpMethod.ONLINE:
        return online_clearing()
    raise InvalidRequest(_("method must be cash, bank or online."), field="method")
