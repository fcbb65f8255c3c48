"""Records upload (terminal-protocol.md §4, §5): every status and every reason, the
batch rules, and the money each accepted record moves."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Sum

from accounts import services
from accounts.models import Card, LoadStatus, PendingLoad, Posting
from accounts.selectors import card_balances, ledger_check
from terminals.models import QuarantinedRecord, TerminalRecord
from tests.accounts.scenario import world
from tests.factories import make_card
from tests.terminals.protocol import (
    RECORDS,
    Chip,
    SignedTerminal,
    balance,
    cash_box,
    payable,
    reseal,
    results,
    terminal_for,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pos(client, clerk, purse_key) -> SignedTerminal:
    return terminal_for(client, "pos", by=clerk, name="Canteen 1, window 1", merchant_code="C1")


@pytest.fixture
def kiosk(client, clerk, purse_key) -> SignedTerminal:
    return terminal_for(client, "kiosk", by=clerk, name="Library kiosk")


def load_written(clerk: Any, kiosk: SignedTerminal, amount: int = 10_000,
                 purse: str = "main", chip: Chip | None = None) -> Chip:
    """A holder tops up at the card office and taps the card on the kiosk, which writes
    the pending load to it and uploads the load record."""
    chip = chip or Chip.of(make_card(by=clerk))
    load = services.card_top_up(card=chip.card, amount=amount, purse=purse, method="cash",
                                by=clerk)
    answer = kiosk.upload([chip.load(kiosk, amount, purse, load_id=load.load_id)])
    assert results(answer) == [(kiosk.last_seq, "accepted")]
    return chip


@pytest.fixture
def chip(clerk, kiosk) -> Chip:
    """A card in a holder's hand with 100.00 on its main purse."""
    return load_written(clerk, kiosk)


def figures(chip: Chip, purse: str = "main") -> dict[str, int]:
    card = Card.objects.select_related("cardholder").get(pk=chip.card.pk)
    return card_balances(card)[purse]


def stored(t: SignedTerminal, seq: int) -> TerminalRecord:
    return TerminalRecord.objects.get(terminal__terminal_id=t.terminal_id, terminal_seq=seq)


def only_result(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.content
    [result] = answer.json()["results"]
    return result


def now() -> int:
    return int(time.time())


# --- accepted -------------------------------------------------------------------------------


def test_a_kiosk_writes_a_pending_load_and_the_card_holds_it(clerk, kiosk) -> None:
    card = make_card(by=clerk)
    load = services.card_top_up(card=card, amount=20_000, purse="subsidy", method="bank",
                                by=clerk)
    chip = Chip.of(card)
    assert figures(chip, "subsidy") == {"account": 20_000, "card": 0, "pending": 20_000}

    answer = kiosk.upload([chip.load(kiosk, 20_000, "subsidy", load_id=load.load_id)])

    assert answer.json() == {"results": [{"terminal_seq": 1, "status": "accepted"}],
                             "highest_contiguous_seq": 1}
    assert figures(chip, "subsidy") == {"account": 20_000, "card": 20_000, "pending": 0}
    load.refresh_from_db()
    assert load.status == LoadStatus.COMPLETED and load.closed_at is not None
    record = stored(kiosk, 1)
    assert (record.status, record.card_id, record.load_id, record.card_seq) == (
        "accepted", card.pk, load.load_id, 1)
    assert ledger_check() == []


def test_a_kiosk_takes_cash_and_the_money_goes_from_its_cash_box_to_the_purse(
        clerk, kiosk) -> None:
    chip = Chip.of(make_card(by=clerk))

    answer = kiosk.upload([chip.load(kiosk, 5_000)])

    assert only_result(answer) == {"terminal_seq": 1, "status": "accepted"}
    assert figures(chip) == {"account": 5_000, "card": 5_000, "pending": 0}
    assert cash_box(kiosk.terminal_id) == -5_000
    assert stored(kiosk, 1).posting_id is not None
    assert ledger_check() == []


def test_a_pos_sells_and_the_merchant_is_owed(pos, chip) -> None:
    answer = pos.upload([chip.purchase(pos, 1_250)])

    assert answer.json() == {"results": [{"terminal_seq": 1, "status": "accepted"}],
                             "highest_contiguous_seq": 1}
    assert figures(chip) == {"account": 8_750, "card": 8_750, "pending": 0}
    assert payable("C1") == 1_250
    record = stored(pos, 1)
    assert record.posting_id is not None
    posting = Posting.objects.get(pk=record.posting_id)
    assert dict(posting.entries.values_list("account__code", "amount")) == {
        f"purse_main:{chip.card.cardholder.number}": -1_250, "merchant_payable:C1": 1_250}
    assert record.flags == []
    assert ledger_check() == []


def test_a_door_controller_and_a_time_clock_upload_their_events(client, clerk, chip) -> None:
    door = terminal_for(client, "door", by=clerk, doors=2)
    clock = terminal_for(client, "attendance", by=clerk)
    before = world()
    card_no = chip.card.card_no

    opened = door.upload([
        {"type": "door", "terminal_seq": 1, "ts": now(), "card_no": card_no, "door": 2,
         "result": "granted", "reason": None},
        {"type": "door", "terminal_seq": 2, "ts": now(), "card_no": "20269999", "door": 1,
         "result": "denied", "reason": "unknown_card"},
    ])
    punched = clock.upload([{"type": "punch", "terminal_seq": 1, "ts": now(),
                             "card_no": card_no}])

    assert results(opened) == [(1, "accepted"), (2, "accepted")]
    assert results(punched) == [(1, "accepted")]
    assert stored(door, 1).card_id == chip.card.pk
    assert stored(door, 2).card_id is None
    assert stored(clock, 1).type == "punch"
    assert world() == before  # no money, no card change


# --- duplicate and conflict -------------------------------------------------------------------


def test_the_same_record_again_is_a_duplicate_and_changes_nothing(pos, chip) -> None:
    record = chip.purchase(pos, 1_250)
    pos.upload([record])
    before = world()

    again = pos.upload([record])
    reordered = pos.upload([dict(reversed(list(record.items())))])

    assert again.json() == {"results": [{"terminal_seq": 1, "status": "duplicate"}],
                            "highest_contiguous_seq": 1}
    assert only_result(reordered)["status"] == "duplicate"
    assert world() == before
    assert figures(chip)["card"] == 8_750


def test_the_same_record_twice_in_one_batch_is_applied_once(pos, chip) -> None:
    record = chip.purchase(pos, 1_250)

    answer = pos.upload([record, record])

    assert results(answer) == [(1, "accepted"), (1, "duplicate")]
    assert payable() == 1_250
    assert figures(chip) == {"account": 8_750, "card": 8_750, "pending": 0}
    assert ledger_check() == []


def test_other_content_at_a_stored_seq_is_a_conflict_kept_in_quarantine(pos, chip) -> None:
    original = chip.purchase(pos, 1_250)
    pos.upload([original])
    before = world()
    other = reseal({**original, "amount": 9_000, "ts": original["ts"] + 60}, chip.card,
                   pos.terminal_id)

    answer = pos.upload([other])
    repeated = pos.upload([other])

    assert answer.json() == {"results": [{"terminal_seq": 1, "status": "conflict"}],
                             "highest_contiguous_seq": 1}
    assert only_result(repeated)["status"] == "conflict"
    [kept] = QuarantinedRecord.objects.all()
    assert (kept.terminal_seq, kept.reason, kept.raw) == (1, "conflict", other)
    assert stored(pos, 1).raw == original and stored(pos, 1).amount == 1_250
    assert world() == before  # nothing posted
    assert payable() == 1_250
    assert ledger_check() == []


def test_two_contents_for_one_seq_in_one_batch_the_second_is_a_conflict(pos, chip) -> None:
    first = chip.purchase(pos, 500)
    second = reseal({**first, "amount": 600}, chip.card, pos.terminal_id)

    answer = pos.upload([first, second])

    assert results(answer) == [(1, "accepted"), (1, "conflict")]
    assert QuarantinedRecord.objects.get().raw == second
    assert payable() == 500
    assert ledger_check() == []


def test_a_rejected_record_sent_again_is_a_duplicate_and_other_content_a_conflict(
        pos, chip) -> None:
    record = {**chip.purchase(pos, 500), "tac": "0" * 16}
    assert only_result(pos.upload([record]))["reason"] == "bad_tac"
    fixed = reseal(record, chip.card, pos.terminal_id)

    again = pos.upload([record])
    corrected = pos.upload([fixed])

    assert only_result(again)["status"] == "duplicate"
    assert only_result(corrected)["status"] == "conflict"
    assert payable() == 0


# --- rejected: invalid, each field rule ---------------------------------------------------


def _without(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda r: {k: v for k, v in r.items() if k != name}


def _set(**fields: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda r: {**r, **fields}


PURCHASE_BREAKS: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], str]] = {
    "unknown type": (_set(type="refund"), "type must be"),
    "no type": (_without("type"), "type must be"),
    "ts text": (_set(ts="today"), "ts must be"),
    "ts negative": (_set(ts=-1), "ts must be"),
    "ts float": (_set(ts=1795000000.5), "ts must be"),
    "no ts": (_without("ts"), "ts must be"),
    "card_no number": (_set(card_no=20260001), "card_no must be a string"),
    "no card_no": (_without("card_no"), "card_no must be a string"),
    "card_no short": (_set(card_no="2026001"), "card_no must be 8 to 19 digits"),
    "card_no long": (_set(card_no="1" * 20), "card_no must be 8 to 19 digits"),
    "card_no letters": (_set(card_no="2026000A"), "card_no must be 8 to 19 digits"),
    "card_seq 0": (_set(card_seq=0), "card_seq"),
    "card_seq text": (_set(card_seq="2"), "card_seq"),
    "no card_seq": (_without("card_seq"), "card_seq"),
    "purse": (_set(purse="gold"), "purse must be main or subsidy"),
    "amount 0": (_set(amount=0), "amount must be"),
    "amount negative": (_set(amount=-100), "amount must be"),
    "amount float": (_set(amount=12.5), "amount must be"),
    "amount text": (_set(amount="100"), "amount must be"),
    "balance below amount": (_set(amount=1_000, balance_before=999), "balance_before"),
    "balance negative": (_set(balance_before=-1), "balance_before"),
    "key_version 0": (_set(key_version=0), "key_version must be 1 to 255"),
    "key_version 256": (_set(key_version=256), "key_version must be 1 to 255"),
    "tac not hex": (_set(tac="zz" * 8), "tac must be 16 hex"),
    "tac short": (_set(tac="ab" * 7), "tac must be 16 hex"),
    "tac long": (_set(tac="ab" * 9), "tac must be 16 hex"),
    "tac number": (_set(tac=1234567890123456), "tac must be 16 hex"),
}


@pytest.mark.parametrize("case", list(PURCHASE_BREAKS))
def test_a_malformed_purchase_is_rejected_invalid_with_a_detail_and_kept_whole(
        pos, chip, case) -> None:
    breaks, detail = PURCHASE_BREAKS[case]
    record = breaks(chip.purchase(pos, 1_000))
    before = world()

    result = only_result(pos.upload([record]))

    assert (result["status"], result["reason"]) == ("rejected", "invalid")
    assert detail in result["detail"]
    kept = stored(pos, 1)
    assert (kept.status, kept.reason, kept.detail, kept.raw) == (
        "rejected", "invalid", result["detail"], record)
    assert kept.posting_id is None
    assert world() == before
    assert ledger_check() == []


LOAD_BREAKS: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], str]] = {
    "load_id and cash": (_set(source="cash"), "either a load_id"),
    "neither": (_without("load_id"), "either a load_id"),
    "empty load_id": (_set(load_id=""), "either a load_id"),
    "load_id too long": (_set(load_id="L-" + "0" * 40), "either a load_id"),
    "load_id number": (_set(load_id=17), "either a load_id"),
    "other source": (lambda r: {**_without("load_id")(r), "source": "card"}, "either a load_id"),
    "balance_before negative": (_set(balance_before=-1), "balance_before"),
}


@pytest.mark.parametrize("case", list(LOAD_BREAKS))
def test_a_malformed_load_is_rejected_invalid(clerk, kiosk, case) -> None:
    card = make_card(by=clerk)
    load = services.card_top_up(card=card, amount=3_000, method="cash", by=clerk)
    breaks, detail = LOAD_BREAKS[case]
    record = breaks(Chip.of(card).load(kiosk, 3_000, load_id=load.load_id))

    result = only_result(kiosk.upload([record]))

    assert (result["reason"], detail in result["detail"]) == ("invalid", True), result
    load.refresh_from_db()
    assert load.status == LoadStatus.PENDING
    assert stored(kiosk, 1).raw == record


def test_a_load_that_does_not_match_its_pending_load_is_invalid(clerk, kiosk) -> None:
    card = make_card(by=clerk)
    load = services.card_top_up(card=card, amount=3_000, method="cash", by=clerk)
    chip = Chip.of(card)

    wrong_amount = only_result(kiosk.upload([chip.load(kiosk, 2_000, load_id=load.load_id)]))
    wrong_purse = only_result(kiosk.upload([
        chip.load(kiosk, 3_000, "subsidy", load_id=load.load_id)]))

    assert wrong_amount["reason"] == wrong_purse["reason"] == "invalid"
    assert load.load_id in wrong_amount["detail"]
    load.refresh_from_db()
    assert load.status == LoadStatus.PENDING
    assert Card.objects.get(pk=card.pk).card_main == 0


DOOR_BREAKS: dict[str, tuple[dict[str, Any], str]] = {
    "door 0": ({"door": 0}, "door must be"),
    "door text": ({"door": "1"}, "door must be"),
    "no door": ({"door": None}, "door must be"),
    "result": ({"result": "maybe"}, "result must be granted or denied"),
    "reason": ({"reason": "because"}, "reason is not one of"),
    "no such door": ({"door": 9}, "this controller has doors 1 to"),
}


@pytest.mark.parametrize("case", list(DOOR_BREAKS))
def test_a_malformed_door_record_is_rejected_invalid(client, clerk, case) -> None:
    door = terminal_for(client, "door", by=clerk)
    fields, detail = DOOR_BREAKS[case]
    record = {"type": "door", "terminal_seq": 1, "ts": now(), "card_no": "20260001",
              "door": 1, "result": "denied", "reason": "schedule", **fields}

    result = only_result(door.upload([record]))

    assert result["reason"] == "invalid" and detail in result["detail"]


@pytest.mark.parametrize(("door_no", "detail"), [
    (0, "door must be a whole number from 1"),
    (-1, "door must be a whole number from 1"),
    (3, "door 3: this controller has doors 1 to 2"),
    (65, "door 65: this controller has doors 1 to 2"),
    (256, "door 256: this controller has doors 1 to 2"),
])
def test_a_door_the_controller_does_not_have_is_invalid_and_kept(client, clerk, door_no,
                                                                  detail) -> None:
    door = terminal_for(client, "door", by=clerk, doors=2)
    record = {"type": "door", "terminal_seq": 1, "ts": now(), "card_no": "20260001",
              "door": door_no, "result": "denied", "reason": "not_allowed"}

    result = only_result(door.upload([record]))

    assert result == {"terminal_seq": 1, "status": "rejected", "reason": "invalid",
                      "detail": detail}
    kept = stored(door, 1)
    assert (kept.status, kept.reason, kept.detail, kept.raw) == (
        "rejected", "invalid", detail, record)


def test_every_door_reason_of_the_contract_is_taken(client, clerk) -> None:
    door = terminal_for(client, "door", by=clerk)
    reasons = [None, "not_allowed", "blacklisted", "schedule", "unknown_card", "antipassback"]
    records = [{"type": "door", "terminal_seq": i, "ts": now(), "card_no": "20260001",
                "door": 1, "result": "granted" if r is None else "denied", "reason": r}
               for i, r in enumerate(reasons, start=1)]

    assert {s for _seq, s in results(door.upload(records))} == {"accepted"}


# --- rejected: the other reasons ------------------------------------------------------------


def test_records_a_kind_of_terminal_does_not_make_are_type_not_allowed(
        client, clerk, pos, kiosk, chip) -> None:
    door = terminal_for(client, "door", by=clerk)
    issuer = terminal_for(client, "issuer", by=clerk)
    before = world()
    door_record = {"type": "door", "terminal_seq": 0, "ts": now(),
                   "card_no": chip.card.card_no, "door": 1, "result": "granted", "reason": None}
    punch = {"type": "punch", "terminal_seq": 0, "ts": now(), "card_no": chip.card.card_no}

    from_pos = pos.upload([{**door_record, "terminal_seq": pos.next_seq()},
                           chip.load(pos, 1_000)])
    from_kiosk = kiosk.upload([chip.purchase(kiosk, 100)])
    from_issuer = issuer.upload([chip.purchase(issuer, 100)])
    from_door = door.upload([{**punch, "terminal_seq": 1}])

    assert results(from_pos) == [(1, "type_not_allowed"), (2, "type_not_allowed")]
    assert results(from_kiosk) == [(kiosk.last_seq, "type_not_allowed")]
    assert results(from_issuer) == [(1, "type_not_allowed")]
    assert results(from_door) == [(1, "type_not_allowed")]
    assert world() == before


def test_a_pos_configured_to_collect_loads_takes_cash_onto_cards(client, clerk,
                                                                 purse_key) -> None:
    pos = terminal_for(client, "pos", by=clerk, params={"collect_loads": True})
    chip = Chip.of(make_card(by=clerk))

    answer = pos.upload([chip.load(pos, 2_000), chip.purchase(pos, 300)])

    assert results(answer) == [(1, "accepted"), (2, "accepted")]
    assert cash_box(pos.terminal_id) == -2_000
    assert payable() == 300
    assert figures(chip) == {"account": 1_700, "card": 1_700, "pending": 0}
    assert ledger_check() == []


def test_a_record_for_a_card_the_server_never_issued_is_unknown_card(pos, chip) -> None:
    stranger = {**chip.purchase(pos, 100), "card_no": "99990000111"}

    assert only_result(pos.upload([stranger]))["reason"] == "unknown_card"
    assert stored(pos, 1).card_id is None


def test_a_key_version_the_server_does_not_hold_is_unknown_key_version(pos, chip) -> None:
    record = {**chip.purchase(pos, 100), "key_version": 2}

    assert only_result(pos.upload([record]))["reason"] == "unknown_key_version"


def test_the_checks_come_in_order_card_then_key_then_tac(pos, chip) -> None:
    record = chip.purchase(pos, 100)
    unknown_everything = {**record, "card_no": "99990000111", "key_version": 9, "tac": "0" * 16}
    unknown_key_and_bad_tac = {**record, "terminal_seq": pos.next_seq(), "key_version": 9,
                               "tac": "0" * 16}

    answer = pos.upload([unknown_everything, unknown_key_and_bad_tac])

    assert results(answer) == [(1, "unknown_card"), (2, "unknown_key_version")]


@pytest.mark.parametrize(
    "changes",
    [{"amount": 100}, {"balance_before": 20_000}, {"card_seq": 9}, {"purse": "subsidy"},
     {"ts": 1}, {"terminal_seq": 77}],
    ids=lambda c: next(iter(c)),
)
def test_any_sealed_field_changed_after_sealing_is_bad_tac(pos, chip, changes) -> None:
    record = {**chip.purchase(pos, 1_000), **changes}
    before = world()

    result = only_result(pos.upload([record]))

    assert (result["status"], result["reason"]) == ("rejected", "bad_tac")
    assert world() == before


def test_a_record_sealed_for_another_terminal_is_bad_tac(client, clerk, pos, chip) -> None:
    other = terminal_for(client, "pos", by=clerk, merchant_code="C2")
    record = chip.purchase(pos, 1_000)  # sealed with the first POS's id

    assert only_result(other.upload([record]))["reason"] == "bad_tac"
    assert payable("C2") == 0


def test_a_record_moved_to_another_card_is_bad_tac(clerk, pos, kiosk, chip) -> None:
    other = load_written(clerk, kiosk, 5_000)
    record = {**chip.purchase(pos, 1_000), "card_no": other.card.card_no}

    assert only_result(pos.upload([record]))["reason"] == "bad_tac"


def test_a_load_naming_no_pending_load_of_this_card_is_unknown_load(clerk, kiosk) -> None:
    card, neighbour = make_card(by=clerk), make_card(by=clerk)
    theirs = services.card_top_up(card=neighbour, amount=1_000, method="cash", by=clerk)
    chip = Chip.of(card)

    answer = kiosk.upload([chip.load(kiosk, 1_000, load_id="L-does-not-exist"),
                           chip.load(kiosk, 1_000, load_id=theirs.load_id)])

    assert results(answer) == [(1, "unknown_load"), (2, "unknown_load")]
    theirs.refresh_from_db()
    assert theirs.status == LoadStatus.PENDING
    assert Card.objects.get(pk=card.pk).card_main == 0


def test_a_load_written_twice_is_load_already_completed(clerk, kiosk) -> None:
    card = make_card(by=clerk)
    load = services.card_top_up(card=card, amount=4_000, method="cash", by=clerk)
    chip = Chip.of(card)
    kiosk.upload([chip.load(kiosk, 4_000, load_id=load.load_id)])

    later = kiosk.upload([chip.load(kiosk, 4_000, load_id=load.load_id)])

    assert results(later) == [(2, "load_already_completed")]
    assert figures(chip) == {"account": 4_000, "card": 4_000, "pending": 0}
    assert ledger_check() == []


def test_a_load_written_twice_in_one_batch_completes_once(clerk, kiosk) -> None:
    card = make_card(by=clerk)
    load = services.card_top_up(card=card, amount=4_000, method="cash", by=clerk)
    chip = Chip.of(card)

    answer = kiosk.upload([chip.load(kiosk, 4_000, load_id=load.load_id),
                           chip.load(kiosk, 4_000, load_id=load.load_id)])

    assert results(answer) == [(1, "accepted"), (2, "load_already_completed")]
    assert figures(chip) == {"account": 4_000, "card": 4_000, "pending": 0}
    assert ledger_check() == []
    # Stored as decided, though the records are stored before the money is written: the
    # refused one as refused, and neither names a posting (the top-up made the posting).
    first, second = stored(kiosk, 1), stored(kiosk, 2)
    assert (first.status, first.posting_id) == ("accepted", None)
    assert (second.status, second.reason, second.posting_id) == (
        "rejected", "load_already_completed", None)


def test_each_stored_purchase_names_its_own_posting_in_a_batch(pos, chip) -> None:
    answer = pos.upload([chip.purchase(pos, 100 + n) for n in range(5)])

    assert [r["status"] for r in answer.json()["results"]] == ["accepted"] * 5
    for seq in range(1, 6):
        posting = Posting.objects.get(pk=stored(pos, seq).posting_id or 0)
        assert posting.idempotency_key == f"record:{pos.terminal_id}:{seq}"
        assert posting.entries.get(account__code="merchant_payable:C1").amount == 100 + seq - 1


def test_rejected_records_are_kept_whole_and_count_for_the_contiguous_seq(pos, chip) -> None:
    good = chip.purchase(pos, 100)
    bad_tac = {**chip.purchase(pos, 100), "tac": "f" * 16}
    invalid = {"type": "purchase", "terminal_seq": pos.next_seq(), "ts": now()}

    answer = pos.upload([good, bad_tac, invalid])

    body = answer.json()
    assert results(answer) == [(1, "accepted"), (2, "bad_tac"), (3, "invalid")]
    assert body["highest_contiguous_seq"] == 3
    for seq, record in [(2, bad_tac), (3, invalid)]:
        kept = stored(pos, seq)
        assert (kept.status, kept.raw) == ("rejected", record)
    assert stored(pos, 2).reason == "bad_tac"


# --- highest_contiguous_seq -------------------------------------------------------------------


def test_the_contiguous_seq_stops_at_a_gap_and_moves_when_it_is_filled(client, clerk) -> None:
    clock = terminal_for(client, "attendance", by=clerk)

    def punch(seq: int) -> dict[str, Any]:
        return {"type": "punch", "terminal_seq": seq, "ts": now(), "card_no": "20260001"}

    first = clock.upload([punch(1), punch(2), punch(4)]).json()
    later = clock.upload([punch(6)]).json()
    filled = clock.upload([punch(3)]).json()
    rest = clock.upload([punch(5)]).json()

    assert first["highest_contiguous_seq"] == 2
    assert later["highest_contiguous_seq"] == 2
    assert filled["highest_contiguous_seq"] == 4
    assert rest["highest_contiguous_seq"] == 6
    assert clock.model is not None
    clock.model.refresh_from_db()
    assert clock.model.contiguous_seq == 6


def test_a_terminal_that_starts_past_one_has_no_contiguous_seq(client, clerk) -> None:
    clock = terminal_for(client, "attendance", by=clerk)

    answer = clock.upload([{"type": "punch", "terminal_seq": 2, "ts": now(),
                            "card_no": "20260001"}])

    assert answer.json()["highest_contiguous_seq"] == 0


# --- the batch itself -------------------------------------------------------------------------


def _punches(n: int) -> list[dict[str, Any]]:
    return [{"type": "punch", "terminal_seq": i, "ts": 1795000000, "card_no": "20260001"}
            for i in range(1, n + 1)]


GOOD = {"type": "punch", "terminal_seq": 1, "ts": 1795000000, "card_no": "20260001"}
BAD_BATCHES: dict[str, bytes] = {
    "not json": b"records: 1",
    "truncated": b'{"records": [',
    "not utf-8": b'{"records": [{"type": "\xff"}]}',
    "a list": json.dumps([GOOD]).encode(),
    "a number": b"42",
    "records missing": json.dumps({"recs": [GOOD]}).encode(),
    "records not a list": json.dumps({"records": GOOD}).encode(),
    "no records": json.dumps({"records": []}).encode(),
    "1001 records": json.dumps({"records": _punches(1001)}).encode(),
    "record not an object": json.dumps({"records": [GOOD, 2]}).encode(),
    "no terminal_seq": json.dumps({"records": [GOOD, {"type": "punch"}]}).encode(),
    "terminal_seq 0": json.dumps({"records": [GOOD, {**GOOD, "terminal_seq": 0}]}).encode(),
    "terminal_seq negative": json.dumps({"records": [{**GOOD, "terminal_seq": -3}]}).encode(),
    "terminal_seq text": json.dumps({"records": [GOOD, {**GOOD, "terminal_seq": "2"}]}).encode(),
    "terminal_seq float": json.dumps({"records": [GOOD, {**GOOD, "terminal_seq": 2.0}]}).encode(),
    "terminal_seq true": json.dumps({"records": [{**GOOD, "terminal_seq": True}]}).encode(),
    "terminal_seq null": json.dumps({"records": [{**GOOD, "terminal_seq": None}]}).encode(),
    "terminal_seq huge": json.dumps({"records": [{**GOOD, "terminal_seq": 2**63}]}).encode(),
    "empty body": b"",
}


@pytest.mark.parametrize("case", list(BAD_BATCHES))
def test_a_body_not_of_the_batch_shape_is_invalid_batch_and_nothing_is_stored(
        pos, chip, case) -> None:
    good = chip.purchase(pos, 100)
    body = BAD_BATCHES[case]
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("records"), list) and data["records"]:
        data["records"].insert(0, good)  # a good record in it is not applied either
        body = json.dumps(data).encode()
    before = world()

    answer = pos.post(RECORDS, body)

    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["code"] == "invalid_batch"
    assert not TerminalRecord.objects.filter(terminal__terminal_id=pos.terminal_id).exists()
    assert world() == before


@pytest.mark.parametrize("size", [(1 << 20) + 1, 3 << 20], ids=["just over 1 MiB", "3 MiB"])
def test_a_body_over_one_mebibyte_is_batch_too_large(client, clerk, size) -> None:
    clock = terminal_for(client, "attendance", by=clerk)
    record = {**GOOD, "note": ""}
    body = json.dumps({"records": [record]}).encode()
    record["note"] = "x" * (size - len(body))
    body = json.dumps({"records": [record]}).encode()
    assert len(body) == size

    answer = clock.post(RECORDS, body)

    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "batch_too_large"
    assert not TerminalRecord.objects.exists()


def test_a_batch_of_exactly_one_mebibyte_and_1000_records_is_taken(client, clerk) -> None:
    clock = terminal_for(client, "attendance", by=clerk)
    records: list[dict[str, Any]] = [{**r, "note": ""} for r in _punches(1000)]
    pad = (1 << 20) - len(json.dumps({"records": records}).encode())
    records[0]["note"] = "x" * pad
    body = json.dumps({"records": records}).encode()
    assert len(body) == 1 << 20

    answer = clock.post(RECORDS, body)

    assert answer.status_code == 200
    assert answer.json()["highest_contiguous_seq"] == 1000


@pytest.mark.parametrize("extra", ['"card_no": "2026\\u00000001"', '"card_no": "\\ud800"',
                                   '"card_no": "1", "x\\u0000": 1',
                                   '"card_no": "1", "deep": ' + "[" * 600 + '"\\u0000"'
                                   + "]" * 600],
                         ids=["NUL", "surrogate", "NUL in a key", "NUL deep down"])
def test_text_postgresql_cannot_store_is_refused_as_invalid_batch(client, clerk, extra) -> None:
    clock = terminal_for(client, "attendance", by=clerk)
    body = ('{"records": [{"type": "punch", "terminal_seq": 1, "ts": 1, ' + extra + "}]}").encode()

    answer = clock.post(RECORDS, body)

    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_batch")
    assert not TerminalRecord.objects.exists()


def test_an_escaped_emoji_is_fine(client, clerk) -> None:
    clock = terminal_for(client, "attendance", by=clerk)
    body = json.dumps({"records": [{**GOOD, "note": "\U0001f600 \\u0000"}]}).encode()

    answer = clock.post(RECORDS, body)

    assert results(answer) == [(1, "accepted")]
    assert TerminalRecord.objects.get().raw["note"] == "\U0001f600 \\u0000"


def test_one_result_per_record_in_the_order_sent(clerk, pos, chip) -> None:
    chip_records = [chip.purchase(pos, 100) for _ in range(4)]  # seqs 1..4
    one, two, three, four = chip_records
    punch = {"type": "punch", "terminal_seq": pos.next_seq(), "ts": now(),
             "card_no": chip.card.card_no}  # seq 5
    batch = [punch, {**three, "tac": "1" * 16}, four, {**two, "amount": "lots"}, one, punch]

    answer = pos.upload(batch)

    assert results(answer) == [(5, "type_not_allowed"), (3, "bad_tac"), (4, "accepted"),
                               (2, "invalid"), (1, "accepted"), (5, "duplicate")]
    assert answer.json()["highest_contiguous_seq"] == 5


def test_the_same_batch_any_number_of_times_changes_nothing_more(clerk, pos, kiosk,
                                                                chip) -> None:
    batch = [chip.purchase(pos, 700), {**chip.purchase(pos, 50), "tac": "0" * 16},
             chip.purchase(pos, 1_300)]
    pos.upload(batch)
    before = (world(), TerminalRecord.objects.count(), QuarantinedRecord.objects.count())

    for _ in range(3):
        assert {s for _seq, s in results(pos.upload(batch))} == {"duplicate"}

    assert (world(), TerminalRecord.objects.count(),
            QuarantinedRecord.objects.count()) == before
    assert payable() == 2_000


# --- accepted although it looks wrong ------------------------------------------------------


def test_a_lost_cards_purchase_is_accepted_and_flagged(clerk, pos, chip) -> None:
    services.card_report_loss(card=chip.card, by=clerk)

    answer = pos.upload([chip.purchase(pos, 1_000)])

    assert only_result(answer)["status"] == "accepted"
    assert stored(pos, 1).flags == ["blacklisted_card"]
    assert payable() == 1_000
    assert figures(chip) == {"account": 9_000, "card": 9_000, "pending": 0}
    assert ledger_check() == []


def test_a_record_from_a_clock_far_off_is_accepted_and_flagged(pos, chip) -> None:
    stale = chip.purchase(pos, 100, ts=now() - 2 * 86_400)
    ahead = chip.purchase(pos, 100, ts=now() + 3_600)
    late_but_fine = chip.purchase(pos, 100, ts=now() - 3_600)

    answer = pos.upload([stale, ahead, late_but_fine])

    assert results(answer) == [(1, "accepted"), (2, "accepted"), (3, "accepted")]
    assert [stored(pos, s).flags for s in (1, 2, 3)] == [["clock_skew"], ["clock_skew"], []]
    assert payable() == 300


def test_a_purchase_before_the_cash_load_that_paid_for_it_goes_short_to_suspense(
        clerk, pos, kiosk) -> None:
    chip = Chip.of(make_card(by=clerk))
    cash = chip.load(kiosk, 5_000)  # the kiosk is offline for now
    meal = chip.purchase(pos, 1_250)

    answer = pos.upload([meal])

    assert only_result(answer)["status"] == "accepted"
    assert stored(pos, 1).flags == ["purse_shortfall"]
    assert payable() == 1_250  # the merchant is owed the sale in full
    assert balance("suspense") == -1_250
    # The server has not seen the money reach the card yet: the card figure is below
    # zero and the account cannot follow it, which reconciliation reports; the books
    # themselves balance.
    assert figures(chip) == {"account": 0, "card": -1_250, "pending": 0}
    assert [b.rule for b in ledger_check()] == ["account_equals_card_plus_pending"]

    late = kiosk.upload([cash])

    assert only_result(late)["status"] == "accepted"
    assert figures(chip) == {"account": 3_750, "card": 3_750, "pending": 0}
    assert balance("suspense") == 0
    assert cash_box(kiosk.terminal_id) == -5_000
    assert ledger_check() == []


def test_a_shortfall_is_made_good_from_several_late_cash_loads(clerk, pos, kiosk) -> None:
    chip = Chip.of(make_card(by=clerk))
    small, big = chip.load(kiosk, 500), chip.load(kiosk, 3_000)
    lunch, dinner = chip.purchase(pos, 1_000), chip.purchase(pos, 2_000)

    pos.upload([lunch, dinner])
    kiosk.upload([small])
    assert balance("suspense") == -2_500
    kiosk.upload([big])

    assert figures(chip) == {"account": 500, "card": 500, "pending": 0}
    assert (balance("suspense"), payable(), cash_box(kiosk.terminal_id)) == (0, 3_000, -3_500)
    assert ledger_check() == []


# --- a day of money -------------------------------------------------------------------------


def test_a_day_at_two_canteens_adds_up(client, clerk, kiosk) -> None:
    c1 = terminal_for(client, "pos", by=clerk, merchant_code="C1")
    c2 = terminal_for(client, "pos", by=clerk, merchant_code="C2")
    alice = load_written(clerk, kiosk, 10_000)
    bob = load_written(clerk, kiosk, 6_000)
    load_written(clerk, kiosk, 2_000, purse="subsidy", chip=bob)
    subsidy = services.card_top_up(card=bob.card, amount=1_000, purse="subsidy",
                                   method="bank", by=clerk)  # not yet on the card

    c1.upload([alice.purchase(c1, 450), bob.purchase(c1, 1_500, "subsidy"),
               alice.purchase(c1, 820)])
    assert ledger_check() == []
    c2.upload([bob.purchase(c2, 2_000), alice.purchase(c2, 1_230), bob.purchase(c2, 500)])
    assert ledger_check() == []
    kiosk.upload([alice.load(kiosk, 3_000), bob.purchase(kiosk, 100)])  # cash; not allowed
    assert ledger_check() == []

    assert (payable("C1"), payable("C2")) == (450 + 1_500 + 820, 2_000 + 1_230 + 500)
    assert figures(alice) == {"account": 10_500, "card": 10_500, "pending": 0}
    assert figures(bob) == {"account": 3_500, "card": 3_500, "pending": 0}
    assert figures(bob, "subsidy") == {"account": 1_500, "card": 500, "pending": 1_000}
    assert PendingLoad.objects.get(pk=subsidy.pk).status == LoadStatus.PENDING
    assert cash_box(kiosk.terminal_id) == -3_000
    assert balance("suspense") == 0
    # The card figure is the sum of its accepted loads less its accepted purchases.
    for person in (alice, bob):
        accepted = TerminalRecord.objects.filter(card=person.card, status="accepted")
        for purse in ("main", "subsidy"):
            mine = accepted.filter(purse=purse)
            loads = mine.filter(type="load").aggregate(s=Sum("amount"))["s"] or 0
            spent = mine.filter(type="purchase").aggregate(s=Sum("amount"))["s"] or 0
            assert figures(person, purse)["card"] == loads - spent
