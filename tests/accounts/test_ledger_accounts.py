"""The ledger's address book (accounts.ledger_accounts) and the vocabulary the accounts
app shares with the terminals app without importing it."""

from __future__ import annotations

import pytest

from accounts import ledger, ledger_accounts
from accounts.models import AccountKind, LedgerAccount, PostingKind
from accounts.services.movements import POSTING_KIND, MovementType
from terminals.models import RecordType
from tests.factories import StaffFactory, make_cardholder


def test_every_kind_of_account_has_an_address_the_book_reads_back() -> None:
    owned = {
        AccountKind.CASH_DRAWER: ledger_accounts.cash_drawer_account(StaffFactory.build(pk=7)),
        AccountKind.MERCHANT_PAYABLE: ledger_accounts.merchant_payable_account("C1"),
        AccountKind.TERMINAL_CASH: ledger_accounts.terminal_cash_account("KIOSK-0001"),
    }
    system = {kind: ledger_accounts.system_account(kind) for kind in ledger_accounts.SYSTEM_KINDS}
    purses = {AccountKind.PURSE_MAIN, AccountKind.PURSE_SUBSIDY}

    assert set(owned) | set(system) | purses == set(AccountKind)
    for kind, code in {**owned, **system}.items():
        assert ledger_accounts.parse(code)[0] == kind
    assert ledger_accounts.parse("suspense:x") == (None, "x")
    assert ledger_accounts.parse("merchant_payable")[0] is None
    assert ledger_accounts.parse("nonsense:1")[0] is None


@pytest.mark.django_db
def test_a_purse_code_is_the_code_its_account_row_gets() -> None:
    holder = make_cardholder()

    for purse in ("main", "subsidy"):
        row = LedgerAccount.objects.get(cardholder=holder, kind=f"purse_{purse}")
        assert row.code == ledger_accounts.purse_account(holder, purse)
        assert ledger.account_purse(holder, purse) == row


def test_terminal_record_types_are_the_movement_types_the_ledger_posts() -> None:
    assert set(MovementType) == {RecordType.PURCHASE, RecordType.LOAD}
    assert POSTING_KIND == {MovementType.PURCHASE: PostingKind.RECORD_PURCHASE,
                            MovementType.LOAD: PostingKind.RECORD_LOAD}
