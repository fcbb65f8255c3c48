"""Nightly reconciliation (terminal-protocol.md §7) as scenarios: terminals upload
records through the real endpoints with real TACs, then the run for today's business
day raises exactly the exceptions the day deserves."""

from __future__ import annotations

import datetime as dt
import io
import time
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts import services
from accounts.models import BlacklistVersion, Card, LedgerAccount
from accounts.selectors import ledger_check
from settlement.models import ExceptionCode, ExceptionStatus, ReconciliationRun, ReconException
from settlement.services import reconcile_day
from tests.factories import make_card, new_uid
from tests.terminals.protocol import Chip, SignedTerminal, reseal, results, terminal_for

pytestmark = pytest.mark.django_db

HEARTBEAT = "/api/v1/terminal/heartbeat"


@pytest.fixture
def kiosk(client: Any, clerk: Any, purse_key: Any) -> SignedTerminal:
    return terminal_for(client, "kiosk", by=clerk, name="Library kiosk")


@pytest.fixture
def pos(client: Any, clerk: Any, purse_key: Any) -> SignedTerminal:
    return terminal_for(client, "pos", by=clerk, name="Canteen 1, window 1", merchant_code="C1")


@pytest.fixture
def pos2(client: Any, clerk: Any, purse_key: Any) -> SignedTerminal:
    return terminal_for(client, "pos", by=clerk, name="Canteen 1, window 2", merchant_code="C1")


def loaded_chip(clerk: Any, kiosk: SignedTerminal, amount: int = 10_000) -> Chip:
    """A holder tops up at the card office; the kiosk writes the load to the card."""
    chip = Chip.of(make_card(by=clerk))
    load = services.card_top_up(card=chip.card, amount=amount, purse="main", method="cash",
                                by=clerk)
    accept(kiosk, chip.load(kiosk, amount, load_id=load.load_id))
    return chip


@pytest.fixture
def chip(clerk: Any, kiosk: SignedTerminal) -> Chip:
    return loaded_chip(clerk, kiosk)


def accept(terminal: SignedTerminal, *records: dict[str, Any]) -> None:
    answer = terminal.upload(list(records))
    assert [status for _seq, status in results(answer)] == ["accepted"] * len(records)


def heartbeat(terminal: SignedTerminal, blacklist_version: int) -> None:
    answer = terminal.post(HEARTBEAT, {"ts": int(time.time()),
                                       "blacklist_version": blacklist_version,
                                       "last_seq": terminal.last_seq})
    assert answer.status_code == 200, answer.content


def later(seconds: int = 2) -> int:
    """A record time safely after everything the server has stamped so far."""
    return int(time.time()) + seconds


def reconcile(**kwargs: Any) -> ReconciliationRun:
    return reconcile_day(business_date=timezone.localdate(), **kwargs)


def codes() -> set[str]:
    return set(ReconException.objects.values_list("code", flat=True))


def of_code(code: str) -> list[ReconException]:
    return list(ReconException.objects.filter(code=code).order_by("id"))


# --- a clean day ------------------------------------------------------------------------


def test_a_clean_day_raises_nothing_and_a_second_run_raises_nothing_new(
        on_postgres: None, clerk: Any, kiosk: SignedTerminal, pos: SignedTerminal,
        pos2: SignedTerminal) -> None:
    chip = loaded_chip(clerk, kiosk)
    other = loaded_chip(clerk, kiosk, amount=3_000)
    heartbeat(pos, 0)
    heartbeat(pos2, 0)
    accept(pos, chip.purchase(pos, 1_250), other.purchase(pos, 800))
    accept(pos2, chip.purchase(pos2, 600), chip.purchase(pos2, 400, ts=later()))
    heartbeat(kiosk, 0)

    first = reconcile()
    second = reconcile()

    assert (first.raised, first.ledger_breaches) == ({}, [])
    assert (second.raised, second.ledger_breaches) == ({}, [])
    assert first.finished_at is not None
    assert codes() == set()
    assert ledger_check() == []


# --- one scenario per code ----------------------------------------------------------------


def test_a_terminal_skipping_a_number_raises_a_gap_that_heals_when_the_record_arrives(
        clerk: Any, chip: Chip, pos: SignedTerminal) -> None:
    one, two, three, four = (chip.purchase(pos, 100) for _ in range(4))
    accept(pos, one, two, four)

    run = reconcile()

    assert run.raised == {ExceptionCode.TERMINAL_SEQ_GAP: 1}
    assert codes() == {ExceptionCode.TERMINAL_SEQ_GAP}
    [gap] = of_code(ExceptionCode.TERMINAL_SEQ_GAP)
    assert (gap.terminal_id, gap.detail, gap.status) == (
        pos.terminal_id, {"missing_from": 3, "missing_to": 3}, ExceptionStatus.OPEN)

    accept(pos, three)
    again = reconcile()

    gap.refresh_from_db()
    assert again.raised == {}
    assert gap.status == ExceptionStatus.RESOLVED and gap.resolved_at is not None
    assert codes() == {ExceptionCode.TERMINAL_SEQ_GAP}


def test_two_records_with_one_card_counter_suspect_a_clone_and_blacklist_the_card(
        clerk: Any, chip: Chip, pos: SignedTerminal, pos2: SignedTerminal) -> None:
    clone = Chip.of(Card.objects.get(pk=chip.card.pk))  # a copy made after the load
    accept(pos, chip.purchase(pos, 1_000))
    accept(pos2, clone.purchase(pos2, 2_000))

    run = reconcile()

    assert run.raised == {ExceptionCode.CARD_SEQ_CONFLICT: 1}
    assert codes() == {ExceptionCode.CARD_SEQ_CONFLICT}
    [conflict] = of_code(ExceptionCode.CARD_SEQ_CONFLICT)
    assert conflict.card_no == chip.card.card_no
    assert sorted(r["terminal_id"] for r in conflict.records) == sorted(
        [pos.terminal_id, pos2.terminal_id])
    card = Card.objects.get(pk=chip.card.pk)
    assert card.suspected_clone and card.blacklisted
    assert BlacklistVersion.objects.filter(card=card, reason="suspected_clone").count() == 1
    assert reconcile().raised == {}
    assert BlacklistVersion.objects.filter(card=card).count() == 1


def test_a_balance_before_that_does_not_follow_breaks_the_chain(
        chip: Chip, pos: SignedTerminal) -> None:
    accept(pos, chip.purchase(pos, 1_000))
    chip.purses["main"] -= 500  # the card claims 5.00 less than the last record left it
    accept(pos, chip.purchase(pos, 1_000))

    run = reconcile()

    assert run.raised == {ExceptionCode.BALANCE_CHAIN_BREAK: 1}
    assert codes() == {ExceptionCode.BALANCE_CHAIN_BREAK}
    [brk] = of_code(ExceptionCode.BALANCE_CHAIN_BREAK)
    assert (brk.card_no, brk.detail["expected_balance_before"], brk.detail["balance_before"]) \
        == (chip.card.card_no, 9_000, 8_500)


def test_a_card_counter_gap_waits_for_the_settling_window(
        chip: Chip, pos: SignedTerminal) -> None:
    chip.card_seq += 1  # card_seq 2 happened on a terminal that has not uploaded yet
    accept(pos, chip.purchase(pos, 1_000))
    now = timezone.now()

    assert reconcile(now=now).raised == {}
    assert codes() == set()

    run = reconcile(now=now + dt.timedelta(hours=73))

    assert run.raised == {ExceptionCode.CARD_SEQ_GAP: 1}
    assert codes() == {ExceptionCode.CARD_SEQ_GAP}
    [gap] = of_code(ExceptionCode.CARD_SEQ_GAP)
    assert (gap.card_no, gap.detail) == (chip.card.card_no,
                                         {"missing_from": 2, "missing_to": 2})


def test_a_purchase_of_money_never_loaded_leaves_the_account_short_of_the_card(
        clerk: Any, pos: SignedTerminal) -> None:
    chip = Chip.of(make_card(by=clerk))
    chip.purses["main"] = 5_000  # the card says it holds 50.00 the server never saw loaded
    accept(pos, chip.purchase(pos, 1_200))

    run = reconcile()

    assert run.raised == {ExceptionCode.CARD_DB_IMBALANCE: 1}
    assert codes() == {ExceptionCode.CARD_DB_IMBALANCE}
    assert run.ledger_breaches == []  # the hard invariants still hold (suspense took it)
    [imbalance] = of_code(ExceptionCode.CARD_DB_IMBALANCE)
    card_no = chip.card.card_no
    assert imbalance.card_no == card_no
    # The key keeps the form it always had, so runs stored before still match it.
    day = imbalance.business_date
    assert imbalance.key == f"card_db_imbalance:{card_no}:card {card_no} main:{day}"
    figures = {k: imbalance.detail[k] for k in ("purse", "account", "card", "pending", "problem")}
    assert figures == {"purse": "main", "account": 0, "card": -1_200, "pending": 0,
                       "problem": "account 0 != card -1200 + pending 0"}
    assert reconcile().raised == {}


def test_a_sale_to_a_lost_card_is_the_terminals_fault_only_once_it_applied_the_list(
        clerk: Any, chip: Chip, pos: SignedTerminal, pos2: SignedTerminal) -> None:
    services.card_report_loss(card=chip.card, by=clerk)
    listed = BlacklistVersion.objects.get(card=chip.card).version
    heartbeat(pos, listed)  # window 1 has the list with the card on it
    heartbeat(pos2, listed - 1)  # window 2 has not fetched it yet
    accept(pos, chip.purchase(pos, 500, ts=later()))
    accept(pos2, chip.purchase(pos2, 500, ts=later()))

    run = reconcile()

    assert run.raised == {ExceptionCode.BLACKLISTED_CARD_USED: 1}
    assert codes() == {ExceptionCode.BLACKLISTED_CARD_USED}
    [used] = of_code(ExceptionCode.BLACKLISTED_CARD_USED)
    assert (used.terminal_id, used.card_no) == (pos.terminal_id, chip.card.card_no)
    assert (used.detail["listed_at_version"], used.detail["terminal_had_applied"]) == (
        listed, listed)


def test_a_purchase_by_a_replaced_card_is_raised(
        clerk: Any, chip: Chip, pos: SignedTerminal) -> None:
    services.card_replace(card=chip.card, uid=new_uid(), by=clerk)
    accept(pos, chip.purchase(pos, 1_500, ts=later()))

    run = reconcile()

    # The old card spent money that also waits as a pending load for the new card: the
    # holder's account is now short of the new card plus pending, a real second anomaly.
    assert codes() == {ExceptionCode.REPLACED_CARD_USED, ExceptionCode.CARD_DB_IMBALANCE}
    assert run.raised[ExceptionCode.REPLACED_CARD_USED] == 1
    [used] = of_code(ExceptionCode.REPLACED_CARD_USED)
    assert (used.card_no, used.terminal_id) == (chip.card.card_no, pos.terminal_id)
    [imbalance] = of_code(ExceptionCode.CARD_DB_IMBALANCE)
    successor = Card.objects.get(pk=chip.card.pk).replaced_by
    assert successor is not None and imbalance.card_no == successor.card_no


def test_a_purchase_before_the_replacement_uploaded_later_is_not_raised(
        clerk: Any, chip: Chip, pos: SignedTerminal) -> None:
    sold = chip.purchase(pos, 1_500, ts=int(time.time()) - 5)
    time.sleep(0.01)
    services.card_replace(card=chip.card, uid=new_uid(), by=clerk)
    accept(pos, sold)

    reconcile()

    assert ExceptionCode.REPLACED_CARD_USED not in codes()


def test_a_record_dated_two_days_ago_is_clock_skew(chip: Chip, pos: SignedTerminal) -> None:
    accept(pos, chip.purchase(pos, 700, ts=int(time.time()) - 2 * 86_400))

    run = reconcile()

    assert run.raised == {ExceptionCode.CLOCK_SKEW: 1}
    assert codes() == {ExceptionCode.CLOCK_SKEW}
    [skew] = of_code(ExceptionCode.CLOCK_SKEW)
    assert skew.records == [{"terminal_id": pos.terminal_id, "terminal_seq": pos.last_seq}]


def test_a_rejected_record_and_a_conflict_are_each_quarantined_once(
        chip: Chip, pos: SignedTerminal) -> None:
    sold = chip.purchase(pos, 1_000)
    accept(pos, sold)
    forged = {**chip.purchase(pos, 300), "tac": "0" * 16}
    other = reseal({**sold, "amount": 9_000}, chip.card, pos.terminal_id)
    answer = pos.upload([forged, other])
    assert results(answer) == [(2, "bad_tac"), (1, "conflict")]
    assert results(pos.upload([other])) == [(1, "conflict")]  # the same conflict, resent

    run = reconcile()

    assert run.raised == {ExceptionCode.QUARANTINED_RECORD: 2}
    assert codes() == {ExceptionCode.QUARANTINED_RECORD}
    statuses = sorted(e.detail["status"] for e in of_code(ExceptionCode.QUARANTINED_RECORD))
    assert statuses == ["conflict", "rejected"]
    assert reconcile().raised == {}


# --- the commands -----------------------------------------------------------------------


def test_the_reconcile_command_prints_a_one_line_summary(
        chip: Chip, pos: SignedTerminal) -> None:
    accept(pos, chip.purchase(pos, 700, ts=int(time.time()) - 2 * 86_400))
    out = io.StringIO()

    call_command("reconcile", "--date", timezone.localdate().isoformat(), stdout=out)

    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    assert timezone.localdate().isoformat() in lines[0]
    assert "clock_skew 1" in lines[0] and "balanced" in lines[0]


def test_check_ledger_exits_zero_on_a_clean_ledger_and_one_on_a_breach(
        chip: Chip, pos: SignedTerminal) -> None:
    accept(pos, chip.purchase(pos, 700))
    out = io.StringIO()

    call_command("check_ledger", stdout=out)  # returns: exit status 0

    assert "balanced" in out.getvalue()
    LedgerAccount.objects.filter(code="merchant_payable:C1").update(balance=1)
    with pytest.raises(SystemExit) as exited:
        call_command("check_ledger", stdout=io.StringIO(), stderr=io.StringIO())
    assert exited.value.code == 1
