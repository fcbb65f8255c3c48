"""The commands of serial-bus.md §3 and their payloads other than records, both ways
(gateway and reader emulator), like `records.py`.

The contract gives STATUS a two-byte `faults` field of bit flags but does not name the
bits. `FAULT_BITS` is this gateway's reading, offered to reader vendors: a bit it does
not know is still reported, as `reader_fault_bit_N`, never dropped.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from terminals.serial_gateway.records import RecordError, pack_str, read_str

ANSWER_BIT = 0x80


class Command(IntEnum):
    POLL = 0x01
    ACK = 0x02
    SET_TIME = 0x03
    BLACKLIST_ADD = 0x04
    BLACKLIST_REMOVE = 0x05
    BLACKLIST_CLEAR = 0x06
    STATUS = 0x07
    SET_IDENTITY = 0x08


class ErrorCode(IntEnum):
    """The one byte of an `FF` answer."""

    BAD_LENGTH = 0x01
    UNKNOWN_COMMAND = 0x02
    BUSY = 0x03
    STORAGE_FULL = 0x04


FAULT_BITS = {
    0: "reader_storage_full",
    1: "reader_clock_not_set",
    2: "reader_card_module",
    3: "reader_tamper",
    4: "reader_low_battery",
    5: "reader_identity_not_set",
}

U32 = struct.Struct(">I")
_STATUS = struct.Struct(">IHIHI")


def fault_codes(bits: int) -> list[str]:
    return [FAULT_BITS.get(bit, f"reader_fault_bit_{bit}") for bit in range(16)
            if bits >> bit & 1]


def fault_bits(codes: Iterable[str]) -> int:
    by_code = {code: bit for bit, code in FAULT_BITS.items()}
    return sum(1 << by_code[c] for c in set(codes))


@dataclass(frozen=True)
class Status:
    blacklist_version: int
    queued: int
    last_seq: int
    faults: int
    clock: int

    def encode(self) -> bytes:
        return _STATUS.pack(self.blacklist_version, self.queued, self.last_seq, self.faults,
                            self.clock)

    @classmethod
    def decode(cls, payload: bytes) -> Status:
        if len(payload) != _STATUS.size:
            raise RecordError(f"a STATUS answer is {_STATUS.size} bytes")
        return cls(*_STATUS.unpack(payload))


def u32(value: int) -> bytes:
    return U32.pack(value)


def read_u32(payload: bytes) -> int:
    if len(payload) != U32.size:
        raise RecordError("expected a 4-byte number")
    return int(U32.unpack(payload)[0])


def encode_list_change(version: int, card_nos: Sequence[str]) -> bytes:
    """BLACKLIST ADD / REMOVE payload: version, count, card_no strings."""
    if len(card_nos) > 255:
        raise ValueError("at most 255 cards per change")
    return u32(version) + bytes([len(card_nos)]) + b"".join(pack_str(c) for c in card_nos)


def decode_list_change(payload: bytes) -> tuple[int, list[str]]:
    if len(payload) < 5:
        raise RecordError("a list change is version, count and cards")
    version, count, offset = U32.unpack_from(payload)[0], payload[4], 5
    cards = []
    for _ in range(count):
        card, offset = read_str(payload, offset)
        cards.append(card)
    if offset != len(payload):
        raise RecordError("bytes after the last card")
    return int(version), cards
