"""APDUs of the OneCard card profile (card-applet.md), both directions.

Short APDUs only (ISO 7816-4): `CLA INS P1 P2 [Lc data] [Le]`. Numbers are unsigned
big-endian; `card_no` and `terminal_id` are ASCII with a one-byte length in front.
The terminal side builds commands and reads answers here; `SoftCard` parses the same
commands with `Command.decode`, so the two cannot drift apart.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from terminals.client.protocol import KINDS, LOAD, MAIN, PURCHASE, PURSES, SUBSIDY

AID = b"\xf0ONECARD"

CLA_ISO = 0x00
CLA_PROPRIETARY = 0x80
CLA_READER = 0xFF  # PC/SC Part 3 pseudo-APDUs, answered by the reader
INS_SELECT = 0xA4
INS_GET = 0xCA  # GET UID (class FF) and GET STATUS (class 80)
INS_PERSONALISE = 0xE0
INS_TRANSACT = 0x50

KIND_P1 = {PURCHASE: 0x01, LOAD: 0x02}
PURSE_P2 = {MAIN: 0x00, SUBSIDY: 0x01}
P1_KIND = {v: k for k, v in KIND_P1.items()}
P2_PURSE = {v: k for k, v in PURSE_P2.items()}

U32_MAX = 0xFFFFFFFF
CARD_KEY_BYTES = 16


class SW(IntEnum):
    """Status words a OneCard card answers."""

    OK = 0x9000
    INSUFFICIENT = 0x9401  # a purchase larger than the purse
    BALANCE_LIMIT = 0x9402  # a load that would take the purse above the card's maximum
    WRONG_LENGTH = 0x6700
    CONDITIONS = 0x6985  # not personalised; personalised twice; not selected
    WRONG_DATA = 0x6A80  # amount 0 or malformed data
    FILE_NOT_FOUND = 0x6A82  # SELECT of another application
    WRONG_P1P2 = 0x6A86
    INS_UNKNOWN = 0x6D00
    CLA_UNKNOWN = 0x6E00


class CardError(Exception):
    """The card refused a command; `sw` is its status word, and the card changed nothing."""

    def __init__(self, sw: int, message: str = "") -> None:
        self.sw = int(sw)
        super().__init__(message or f"card answered {self.sw:04X}")


@dataclass(frozen=True)
class Command:
    cla: int
    ins: int
    p1: int = 0
    p2: int = 0
    data: bytes = b""
    le: int | None = None

    def encode(self) -> bytes:
        head = bytes([self.cla, self.ins, self.p1, self.p2])
        if len(self.data) > 255:
            raise ValueError("short APDUs carry at most 255 bytes of data")
        body = bytes([len(self.data)]) + self.data if self.data else b""
        tail = bytes([self.le]) if self.le is not None else b""
        return head + body + tail

    @classmethod
    def decode(cls, raw: bytes) -> Command:
        """Split a short APDU into its parts; raises CardError(6700) when the lengths disagree."""
        if len(raw) < 4:
            raise CardError(SW.WRONG_LENGTH)
        cla, ins, p1, p2 = raw[:4]
        if len(raw) == 4:
            return cls(cla, ins, p1, p2)
        if len(raw) == 5:
            return cls(cla, ins, p1, p2, le=raw[4])
        lc = raw[4]
        if lc == 0:  # an extended-length APDU: not part of this profile
            raise CardError(SW.WRONG_LENGTH)
        if len(raw) == 5 + lc:
            return cls(cla, ins, p1, p2, data=bytes(raw[5:]))
        if len(raw) == 6 + lc:
            return cls(cla, ins, p1, p2, data=bytes(raw[5:-1]), le=raw[-1])
        raise CardError(SW.WRONG_LENGTH)


@dataclass(frozen=True)
class CardInfo:
    """What GET STATUS tells about a card."""

    personalised: bool
    key_version: int
    card_seq: int
    main: int
    subsidy: int
    card_no: str

    def balance(self, purse: str) -> int:
        return self.main if purse == MAIN else self.subsidy


class TransactResult(NamedTuple):
    card_seq: int
    balance_before: int
    tac: str


# --- Length-prefixed ASCII ------------------------------------------------------------


def lv(text: str) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > 255:
        raise ValueError("a length-prefixed field is at most 255 bytes")
    return bytes([len(raw)]) + raw


def read_lv(data: bytes, offset: int) -> tuple[str, int]:
    """The text at `offset` and the offset after it; raises CardError(6700) when short."""
    if offset >= len(data):
        raise CardError(SW.WRONG_LENGTH)
    end = offset + 1 + data[offset]
    if end > len(data):
        raise CardError(SW.WRONG_LENGTH)
    try:
        return data[offset + 1 : end].decode("ascii"), end
    except UnicodeDecodeError as exc:
        raise CardError(SW.WRONG_DATA) from exc


# --- Commands, terminal side ------------------------------------------------------------


def get_uid() -> Command:
    return Command(CLA_READER, INS_GET, 0x00, 0x00, le=0)


def select() -> Command:
    return Command(CLA_ISO, INS_SELECT, 0x04, 0x00, data=AID)


def get_status() -> Command:
    return Command(CLA_PROPRIETARY, INS_GET, 0x00, 0x00, le=0)


def personalise(key_version: int, card_key: bytes, card_no: str) -> Command:
    if len(card_key) != CARD_KEY_BYTES:
        raise ValueError("a card key is 16 bytes")
    data = bytes([key_version]) + card_key + lv(card_no)
    return Command(CLA_PROPRIETARY, INS_PERSONALISE, 0x00, 0x00, data=data)


def transact(
    kind: str, purse: str, amount: int, ts: int, terminal_seq: int, terminal_id: str
) -> Command:
    if kind not in KINDS or purse not in PURSES:
        raise ValueError("kind is purchase or load; purse is main or subsidy")
    data = struct.pack(">III", amount, ts, terminal_seq) + lv(terminal_id)
    return Command(CLA_PROPRIETARY, INS_TRANSACT, KIND_P1[kind], PURSE_P2[purse], data=data, le=0)


# --- Answers ---------------------------------------------------------------------------


def with_sw(data: bytes, sw: int = SW.OK) -> bytes:
    return data + struct.pack(">H", sw)


def split_answer(answer: bytes) -> tuple[bytes, int]:
    if len(answer) < 2:
        raise CardError(SW.WRONG_LENGTH, "an answer ends with a two-byte status word")
    return answer[:-2], struct.unpack(">H", answer[-2:])[0]


def expect_ok(answer: bytes) -> bytes:
    """The data of an answer, or CardError with its status word."""
    data, sw = split_answer(answer)
    if sw != SW.OK:
        raise CardError(sw)
    return data


def encode_info(info: CardInfo) -> bytes:
    head = struct.pack(
        ">BBIII", int(info.personalised), info.key_version, info.card_seq, info.main, info.subsidy
    )
    return head + lv(info.card_no)


def decode_info(data: bytes) -> CardInfo:
    if len(data) < 14:
        raise CardError(SW.WRONG_LENGTH)
    personalised, key_version, card_seq, main, subsidy = struct.unpack(">BBIII", data[:14])
    card_no, end = read_lv(data, 14)
    if end != len(data):
        raise CardError(SW.WRONG_LENGTH)
    return CardInfo(bool(personalised), key_version, card_seq, main, subsidy, card_no)


def encode_result(result: TransactResult) -> bytes:
    return struct.pack(">II", result.card_seq, result.balance_before) + bytes.fromhex(result.tac)


def decode_result(data: bytes) -> TransactResult:
    if len(data) != 16:
        raise CardError(SW.WRONG_LENGTH)
    card_seq, balance_before = struct.unpack(">II", data[:8])
    return TransactResult(card_seq, balance_before, data[8:].hex())
