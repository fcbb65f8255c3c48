"""A card on the desk reader, through the real pcscd: the card profile (card-applet.md)
as pyscard sees it. These run in one xdist group: there is one virtual reader slot."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from smartcard.Exceptions import CardConnectionException, NoCardException
from smartcard.System import readers

from accounts import crypto
from terminals.client.card import SoftCard
from terminals.station.pcsc import release
from tests.hardware.conftest import VirtualReader

pytestmark = [pytest.mark.hardware, pytest.mark.xdist_group("pcsc")]

UID = bytes.fromhex("04a1b2c3")
CARD_KEY = bytes.fromhex("0d6be83f0b9bf77b567c981421d65205")  # vectors.json
def apdu(header: str, data: bytes = b"", le: bool = False) -> list[int]:
    body = bytes.fromhex(header) + (bytes([len(data)]) + data if data else b"")
    return list(body + (b"\x00" if le else b""))


SELECT = apdu("00A40400", bytes.fromhex("F0") + b"ONECARD")
GET_UID = apdu("FFCA0000", le=True)
GET_STATUS = apdu("80CA0000", le=True)


def transact_data(amount: int, ts: int, seq: int, terminal: bytes) -> bytes:
    return (amount.to_bytes(4, "big") + ts.to_bytes(4, "big") + seq.to_bytes(4, "big")
            + bytes([len(terminal)]) + terminal)


def _reader() -> Any:
    return next(r for r in readers() if "Virtual PCD 00 00" in str(r))


def _connect(deadline_s: float = 10) -> Any:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            connection = _reader().createConnection()
            connection.connect()
            return connection
        except (NoCardException, CardConnectionException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def card_on_reader(desk_reader: VirtualReader) -> Iterator[tuple[SoftCard, Any]]:
    card = SoftCard(uid=UID)
    desk_reader.insert(card)
    connection = _connect()
    yield card, connection
    release(connection)


def tx(connection: Any, apdu: list[int]) -> tuple[bytes, int]:
    data, sw1, sw2 = connection.transmit(apdu)
    return bytes(data), (sw1 << 8) | sw2


def test_pyscard_reads_the_uid_and_a_blank_card_through_pcscd(card_on_reader) -> None:
    _card, connection = card_on_reader

    assert tx(connection, GET_UID) == (UID, 0x9000)
    assert tx(connection, SELECT)[1] == 0x9000
    status, sw = tx(connection, GET_STATUS)
    assert sw == 0x9000 and status == bytes(15)


def test_a_personalised_card_seals_a_load_with_the_protocols_tac(card_on_reader) -> None:
    _card, connection = card_on_reader
    card_no = b"20260001"
    tx(connection, SELECT)
    personalise = apdu("80E00000", bytes([1]) + CARD_KEY + bytes([len(card_no)]) + card_no)
    assert tx(connection, personalise)[1] == 0x9000
    assert tx(connection, personalise)[1] == 0x6985  # once only

    terminal = b"KIOSK-01"
    answer, sw = tx(connection, apdu("80500201", transact_data(20000, 1795003600, 3, terminal)))

    assert sw == 0x9000
    card_seq, before, tac = (int.from_bytes(answer[0:4], "big"),
                             int.from_bytes(answer[4:8], "big"), answer[8:16].hex())
    record = {"type": "load", "card_no": "20260001", "card_seq": card_seq, "purse": "subsidy",
              "amount": 20000, "balance_before": before, "terminal_seq": 3, "ts": 1795003600}
    assert (card_seq, before) == (1, 0)
    assert tac == crypto.compute_tac(CARD_KEY, record, "KIOSK-01")  # what the server checks
    too_much = apdu("80500101", transact_data(30000, 1795003700, 4, terminal))
    assert tx(connection, too_much)[1] == 0x9401


def test_a_card_pulled_from_the_reader_answers_nothing_more(card_on_reader, desk_reader) -> None:
    _card, connection = card_on_reader
    assert tx(connection, GET_UID)[1] == 0x9000

    desk_reader.remove()

    with pytest.raises(CardConnectionException):
        tx(connection, GET_UID)


def _personalised(connection: Any) -> None:
    tx(connection, SELECT)
    card_no = b"20260001"
    personalise = apdu("80E00000", bytes([1]) + CARD_KEY + bytes([len(card_no)]) + card_no)
    assert tx(connection, personalise)[1] == 0x9000


@pytest.mark.parametrize(("why", "personalised", "command", "status"), [
    ("a purchase on a blank card", False,
     apdu("80500100", transact_data(100, 1795000000, 1, b"POS-1")), 0x6985),
    ("a card command before SELECT", None, GET_STATUS, 0x6985),
    ("a purchase larger than the purse", True,
     apdu("80500100", transact_data(1, 1795000000, 1, b"POS-1")), 0x9401),
    ("a load past 1,000,000 fen", True,
     apdu("80500200", transact_data(1_000_001, 1795000000, 1, b"KIOSK-1")), 0x9402),
    ("amount 0", True, apdu("80500200", transact_data(0, 1795000000, 1, b"KIOSK-1")), 0x6A80),
    ("a malformed terminal id", True,
     apdu("80500200", transact_data(5, 1795000000, 1, b"BAD ID!")), 0x6A80),
    ("a TRANSACT cut short", True, apdu("80500200", transact_data(5, 1, 1, b"K")[:10]), 0x6700),
    ("GET STATUS with data", True, apdu("80CA0000", b"\x01"), 0x6700),
    ("an unknown instruction", True, apdu("80B00000", le=True), 0x6D00),
    ("an unknown class", True, apdu("A0CA0000", le=True), 0x6E00),
    ("SELECT of another application", True, apdu("00A40400", b"\xa0\x00\x00\x00\x03"), 0x6A82),
])
def test_every_refusal_reaches_pyscard_and_changes_nothing(card_on_reader, why, personalised,
                                                           command, status) -> None:
    card, connection = card_on_reader
    if personalised:
        _personalised(connection)
    elif personalised is False:
        tx(connection, SELECT)
    before = card.get_status()

    assert tx(connection, command) == (b"", status), why
    assert card.get_status() == before, "a refused command changes nothing"


def test_a_personalised_card_answers_its_status_and_keeps_it_across_power_cycles(
        card_on_reader) -> None:
    card, connection = card_on_reader
    _personalised(connection)
    tx(connection, apdu("80500200", transact_data(2500, 1795000000, 1, b"KIOSK-1")))

    status, sw = tx(connection, GET_STATUS)

    assert sw == 0x9000
    assert status == bytes([1, 1]) + (1).to_bytes(4, "big") + (2500).to_bytes(4, "big") \
        + bytes(4) + bytes([8]) + b"20260001"
    connection.reconnect()  # a warm reset: the application must be selected again
    assert tx(connection, GET_STATUS)[1] == 0x6985
    assert tx(connection, SELECT)[1] == 0x9000
    assert tx(connection, GET_STATUS) == (status, 0x9000)
    assert (card.card_seq, card.main) == (1, 2500)
