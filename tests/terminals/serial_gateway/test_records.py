"""POLL answer records (serial-bus.md §3) both ways: every record the contract can
carry comes back as the terminal-protocol dict it was, and a payload that is not
exactly records is refused whole, never half-read."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminals.serial_gateway.records import (
    REASONS,
    RecordError,
    decode_poll,
    encode_poll,
    encode_record,
)

pytestmark = pytest.mark.hardware

u32 = st.integers(0, 2**32 - 1)
card_no = st.text("0123456789", min_size=8, max_size=19)
tac = st.binary(min_size=8, max_size=8).map(bytes.hex)
common = {"terminal_seq": st.integers(1, 2**32 - 1), "ts": u32, "card_no": card_no}
purse_fields = {"card_seq": u32, "purse": st.sampled_from(["main", "subsidy"]), "amount": u32,
                "balance_before": u32, "key_version": st.integers(0, 255), "tac": tac}
purchase = st.fixed_dictionaries({"type": st.just("purchase"), **common, **purse_fields})
load_by_id = st.fixed_dictionaries({
    "type": st.just("load"), **common, **purse_fields,
    "load_id": st.text("abcdef0123456789-L", min_size=1, max_size=40)})
cash_load = st.fixed_dictionaries({"type": st.just("load"), **common, **purse_fields,
                                   "source": st.just("cash")})
door = st.fixed_dictionaries({"type": st.just("door"), **common, "door": st.integers(1, 255),
                              "result": st.sampled_from(["granted", "denied"]),
                              "reason": st.sampled_from(REASONS)})
punch = st.fixed_dictionaries({"type": st.just("punch"), **common})
records = st.one_of(purchase, load_by_id, cash_load, door, punch)


@settings(max_examples=300, deadline=None)
@given(st.lists(records, max_size=8))
def test_every_record_survives_the_round_trip(sent: list[dict]) -> None:
    assert decode_poll(encode_poll(sent)) == sent


@settings(max_examples=100, deadline=None)
@given(st.lists(records, min_size=1, max_size=8), st.data())
def test_a_cut_payload_is_refused_whole(sent: list[dict], data: st.DataObject) -> None:
    payload = encode_poll(sent)
    cut = data.draw(st.integers(0, len(payload) - 1))
    with pytest.raises(RecordError):
        decode_poll(payload[:cut])


def test_a_purchase_is_laid_out_as_the_contract_says() -> None:
    record = {"type": "purchase", "terminal_seq": 7, "ts": 0x6A000000, "card_no": "20260001",
              "card_seq": 3, "purse": "subsidy", "amount": 1250, "balance_before": 50000,
              "key_version": 1, "tac": "0011223344556677"}
    assert encode_record(record) == bytes.fromhex(
        "01" "00000007" "6a000000" "08" + b"20260001".hex()
        + "00000003" "01" "000004e2" "0000c350" "01" "0011223344556677")


def test_a_load_with_an_empty_load_id_is_cash_taken_by_the_reader() -> None:
    cash = {"type": "load", "terminal_seq": 1, "ts": 1, "card_no": "20260001", "card_seq": 1,
            "purse": "main", "amount": 500, "balance_before": 0, "key_version": 1,
            "tac": "00" * 8, "source": "cash"}
    raw = encode_record(cash)
    assert raw.endswith(b"\x00")  # the empty load_id string
    assert decode_poll(b"\x01" + raw) == [cash]


def test_a_door_record_names_its_result_and_reason() -> None:
    raw = bytes.fromhex("03" "00000002" "00000005" "08") + b"20260001" + bytes([2, 0, 2])
    assert decode_poll(b"\x01" + raw) == [{
        "type": "door", "terminal_seq": 2, "ts": 5, "card_no": "20260001", "door": 2,
        "result": "denied", "reason": "blacklisted"}]


@pytest.mark.parametrize("payload, why", [
    (b"", "no count"),
    (b"\x09" + b"\x04" + bytes(8) + b"\x00" * 9, "nine records"),
    (b"\x01\x05" + bytes(8) + b"\x00", "unknown type"),
    (b"\x01\x04" + bytes(8) + b"\x00" + b"\x00", "a byte after the last record"),
    (b"\x01\x04" + bytes(8) + b"\x02\xff\xfe", "a card_no that is not ASCII"),
    (b"\x01\x03" + bytes(8) + b"\x01" + b"1" + bytes([1, 2, 0]), "a result byte of 2"),
    (b"\x01\x03" + bytes(8) + b"\x01" + b"1" + bytes([1, 1, 6]), "a reason byte of 6"),
])
def test_payloads_that_are_not_records_are_refused(payload: bytes, why: str) -> None:
    with pytest.raises(RecordError):
        decode_poll(payload)
