"""The books are guarded by PostgreSQL itself, not only by the application: raw SQL that
unbalances a posting, rewrites history or breaks a purse's bounds is refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from accounts import ledger
from accounts.models import AccountKind, AuditEvent, Entry, LedgerAccount, Posting
from accounts.selectors import ledger_check
from tests.factories import make_card

pytestmark = pytest.mark.usefixtures("on_postgres")


def _accounts() -> tuple[int, int]:
    bank = ledger.account_singleton(AccountKind.BANK_CLEARING)
    online = ledger.account_singleton(AccountKind.ONLINE_CLEARING)
    return bank.pk, online.pk


def _raw_posting(cur: Any, entries: list[tuple[int, int]]) -> int:
    cur.execute(
        "INSERT INTO accounts_posting (idempotency_key, kind, memo, created_at) "
        "VALUES (%s, 'raw', '', now()) RETURNING id", [f"raw:{uuid.uuid4().hex}"])
    (posting_id,) = cur.fetchone()
    for account_id, amount in entries:
        cur.execute("INSERT INTO accounts_entry (posting_id, account_id, amount) "
                    "VALUES (%s, %s, %s)", [posting_id, account_id, amount])
    return posting_id


# --- Deferred checks: they fire at COMMIT, so these tests really commit -----------------


@pytest.mark.django_db(transaction=True)
def test_an_unbalanced_raw_posting_is_refused_at_commit() -> None:
    bank, _online = _accounts()

    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic(), \
            connection.cursor() as cur:
        _raw_posting(cur, [(bank, 100)])
        # Inside the transaction nothing has complained yet: the check is deferred.

    assert not Posting.objects.filter(kind="raw").exists()
    assert not Entry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_raw_posting_whose_entries_do_not_sum_to_zero_is_refused_at_commit() -> None:
    bank, online = _accounts()

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        _raw_posting(cur, [(bank, 100), (online, -99)])

    assert not Posting.objects.filter(kind="raw").exists()


@pytest.mark.django_db(transaction=True)
def test_a_posting_without_entries_is_refused_at_commit() -> None:
    with pytest.raises(IntegrityError, match="no entries"), transaction.atomic(), \
            connection.cursor() as cur:
        _raw_posting(cur, [])

    assert not Posting.objects.filter(kind="raw").exists()


@pytest.mark.django_db(transaction=True)
def test_a_balanced_raw_posting_commits() -> None:
    bank, online = _accounts()

    with transaction.atomic(), connection.cursor() as cur:
        posting_id = _raw_posting(cur, [(bank, -100), (online, 100)])
        cur.execute("UPDATE accounts_ledgeraccount SET balance = balance + "
                    "CASE id WHEN %s THEN -100 ELSE 100 END WHERE id IN (%s, %s)",
                    [bank, bank, online])

    assert Posting.objects.get(pk=posting_id).entries.count() == 2
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_immediate_constraints_refuse_an_unbalanced_posting_at_once() -> None:
    bank, _online = _accounts()

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        _raw_posting(cur, [(bank, 100)])
        pytest.fail("the insert itself must fail once constraints are immediate")


def _postings_in_one_statement(cur: Any, amounts: list[tuple[int, int]]) -> None:
    """Postings and their entries as the ledger writes them: one statement for all."""
    bank, online = _accounts()
    keys = [f"raw:{uuid.uuid4().hex}" for _ in amounts]
    cur.execute(
        """
        WITH p AS (
            INSERT INTO accounts_posting (idempotency_key, kind, memo, created_at)
            SELECT k, 'raw', '', now() FROM unnest(%s::text[]) AS k RETURNING id, idempotency_key
        )
        INSERT INTO accounts_entry (posting_id, account_id, amount)
        SELECT p.id, v.a, v.d FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS v(k, a, d)
        JOIN p ON p.idempotency_key = v.k
        """,
        [keys, [k for k in keys for _ in (0, 1)], [a for _ in keys for a in (bank, online)],
         [d for debit, credit in amounts for d in (debit, credit)]])


@pytest.mark.django_db(transaction=True)
def test_one_unbalanced_posting_among_many_in_one_statement_refuses_them_all() -> None:
    with pytest.raises(IntegrityError, match="unbalanced: entries sum to 1 over 2"), \
            transaction.atomic(), connection.cursor() as cur:
        _postings_in_one_statement(cur, [(-100, 100)] * 300 + [(-100, 101)] + [(-5, 5)] * 300)

    assert not Posting.objects.filter(kind="raw").exists()
    assert not Entry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_commit_checks_leave_no_notes_behind() -> None:
    with transaction.atomic(), connection.cursor() as cur:
        _postings_in_one_statement(cur, [(-100, 100)] * 500)
        # Two notes, not 1,500 trigger calls: one from the postings' insert and one from the
        # entries' insert (the statement's two inserts), each naming the 500 postings.
        cur.execute("SELECT count(*), sum(cardinality(posting_ids)) FROM accounts_posting_check")
        assert cur.fetchone() == (2, 1000)

    assert Posting.objects.filter(kind="raw").count() == 500
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM accounts_posting_check")
        assert cur.fetchone() == (0,)


# --- Immediate checks ------------------------------------------------------------------


@pytest.fixture
def booked(db, clerk) -> Posting:
    """A card with a deposit: one posting, two entries, some audit rows."""
    card = make_card(by=clerk, deposit=2000)
    return Posting.objects.get(card=card, kind="deposit")


def _refused(sql: str, params: list[int]) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cur:
        cur.execute(sql, params)


def test_an_audit_event_cannot_be_updated_or_deleted(booked: Posting) -> None:
    event = AuditEvent.objects.order_by("id").first()
    assert event is not None

    _refused("UPDATE accounts_auditevent SET action = 'forged' WHERE id = %s", [event.pk])
    _refused("DELETE FROM accounts_auditevent WHERE id = %s", [event.pk])
    # The ORM's bulk paths skip the model's own guard; the database still refuses.
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="forged")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()

    event.refresh_from_db()
    assert event.action != "forged"


def test_the_application_refuses_to_change_an_audit_event(booked: Posting) -> None:
    event = AuditEvent.objects.order_by("id").first()
    assert event is not None
    event.action = "forged"

    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()

    assert AuditEvent.objects.filter(pk=event.pk).exclude(action="forged").exists()


def test_entries_and_postings_cannot_be_updated_or_deleted(booked: Posting) -> None:
    entry = booked.entries.order_by("id").first()
    assert entry is not None

    _refused("UPDATE accounts_entry SET amount = amount * 2 WHERE id = %s", [entry.pk])
    _refused("DELETE FROM accounts_entry WHERE id = %s", [entry.pk])
    _refused("UPDATE accounts_posting SET memo = 'rewritten' WHERE id = %s", [booked.pk])
    _refused("DELETE FROM accounts_posting WHERE id = %s", [booked.pk])

    assert ledger_check() == []
    assert booked.entries.count() == 2


def test_an_entry_of_zero_is_refused(booked: Posting) -> None:
    bank = ledger.account_singleton(AccountKind.BANK_CLEARING)

    with pytest.raises(IntegrityError), transaction.atomic():
        Entry.objects.create(posting=booked, account=bank, amount=0)


@pytest.mark.parametrize("new_balance", ["-1", "max_balance + 1"])
def test_a_purse_outside_its_bounds_is_refused(clerk, new_balance: str) -> None:
    card = make_card(by=clerk)
    purse = LedgerAccount.objects.get(cardholder=card.cardholder, kind=AccountKind.PURSE_MAIN)

    with pytest.raises(IntegrityError, match="ledger_purse_within_bounds"), \
            transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"UPDATE accounts_ledgeraccount SET balance = {new_balance} "
                    "WHERE id = %s", [purse.pk])

    purse.refresh_from_db()
    assert purse.balance == 0


def test_a_purse_without_a_maximum_is_refused(clerk) -> None:
    card = make_card(by=clerk)
    purse = LedgerAccount.objects.get(cardholder=card.cardholder, kind=AccountKind.PURSE_MAIN)

    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.filter(pk=purse.pk).update(max_balance=None)


# --- The application's own check, before the database's --------------------------------


@pytest.mark.django_db
def test_the_posting_primitive_refuses_legs_that_do_not_balance() -> None:
    bank, online = _accounts()

    with pytest.raises(ledger.UnbalancedPosting):
        ledger.posting_create(key="k1", kind="test", legs=[(bank, -100), (online, 99)])
    with pytest.raises(ledger.UnbalancedPosting):
        ledger.posting_create(key="k2", kind="test", legs=[(bank, 100), (bank, -100)])
    with pytest.raises(ledger.UnbalancedPosting):
        ledger.posting_create(key="k3", kind="test", legs=[(bank, 1.5), (online, -1.5)])  # type: ignore[list-item]

    assert not Posting.objects.exists()
