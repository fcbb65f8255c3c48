"""Records in a POLL answer (serial-bus.md §3), both ways: `decode_poll` for the gateway
and `encode_poll` for the reader emulator. One module, so the two ends cannot drift;
the tests check that every record survives the round trip.

A decoded record is a terminal-protocol.md §4 dict, ready to upload: purses, results
and reasons as their words, the TAC as lowercase hex, and a load's empty `load_id`
(cash the reader took itself) as `"source": "cash"`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from terminals.client.apdu import CardError, lv, read_lv

MAX_RECORDS = 8  # per POLL answer

PURCHASE, LOAD, DOOR, PUNCH = 0x01, 0x02, 0x03, 0x04
TYPE_CODES = {"purchase": PURCHASE, "load": LOAD, "door": DOOR, "punch": PUNCH}
TYPE_NAMES = {code: name for name, code in TYPE_CODES.items()}
PURSES = ("main", "subsidy")  # byte 0, 1
RESULTS = ("denied", "granted")  # byte 0, 1
REASONS: tuple[str | None, ...] = (
    None, "not_allowed", "blacklisted", "schedule", "unknown_card", "antipassback")
TAC_BYTES = 8
CASH = "cash"

# terminal_seq, ts, then the card_no string.
_HEAD = struct.Struct(">II")
# card_seq, purse, amount, balance_before, key_version, then the TAC.
_PURSE = struct.Struct(">IBIIB")


class RecordError(ValueError):
    """A POLL payload that is not records as the contract lays them out. Its frame had
    a good CRC, so the reader sent this: it is counted and never half-used."""


def pack_str(text: str) -> bytes:
    """A bus string: one length byte, then ASCII (the card's length-prefixed field)."""
    return lv(text)


def read_str(data: bytes, offset: int) -> tuple[str, int]:
    """The string at `offset` and the offset after it."""
    try:
        return read_lv(data, offset)
    except CardError as exc:
        raise RecordError("a string runs past the end or is not ASCII") from exc


def _unpack(layout: struct.Struct, data: bytes, offset: int) -> tuple[tuple[Any, ...], int]:
    end = offset + layout.size
    if end > len(data):
        raise RecordError("a record is truncated")
    return layout.unpack_from(data, offset), end


def _choice(names: Sequence[Any], index: int, what: str) -> Any:
    if index >= len(names):
        raise RecordError(f"{what} byte {index} is not in the contract")
    return names[index]


# --- Encoding (the reader's side) --------------------------------------------------------


def encode_record(record: Mapping[str, Any]) -> bytes:
    kind = record["type"]
    out = bytes([TYPE_CODES[kind]]) + _HEAD.pack(record["terminal_seq"], record["ts"])
    out += pack_str(record["card_no"])
    if kind in ("purchase", "load"):
        out += _PURSE.pack(record["card_seq"], PURSES.index(record["purse"]), record["amount"],
                           record["balance_before"], record["key_version"])
        tac = bytes.fromhex(record["tac"])
        if len(tac) != TAC_BYTES:
            raise ValueError("a TAC is 8 bytes")
        out += tac
        if kind == "load":
            out += pack_str("" if record.get("source") == CASH else record["load_id"])
    elif kind == "door":
        out += bytes([record["door"], RESULTS.index(record["result"]),
                      REASONS.index(record.get("reason"))])
    return out


def encode_poll(records: Iterable[Mapping[str, Any]]) -> bytes:
    """A POLL answer's payload: count, then the records oldest first."""
    encoded = [encode_record(r) for r in records]
    if len(encoded) > MAX_RECORDS:
        raise ValueError("a POLL answer carries at most 8 records")
    return bytes([len(encoded)]) + b"".join(encoded)


# --- Decoding (the gateway's side) -------------------------------------------------------


def decode_record(data: bytes, offset: int) -> tuple[dict[str, Any], int]:
    """The record at `offset` and the offset after it."""
    kind = TYPE_NAMES.get(data[offset]) if offset < len(data) else None
    if kind is None:
        raise RecordError("unknown record type")
    (seq, ts), offset = _unpack(_HEAD, data, offset + 1)
    card_no, offset = read_str(data, offset)
    record: dict[str, Any] = {"type": kind, "terminal_seq": seq, "ts": ts, "card_no": card_no}
    if kind in ("purchase", "load"):
        (card_seq, purse, amount, before, key_version), offset = _unpack(_PURSE, data, offset)
        if offset + TAC_BYTES > len(data):
            raise RecordError("a record is truncated")
        record.update(card_seq=card_seq, purse=_choice(PURSES, purse, "purse"), amount=amount,
                      balance_before=before, key_version=key_version,
                      tac=data[offset:offset + TAC_BYTES].hex())
        offset += TAC_BYTES
        if kind == "load":
            load_id, offset = read_str(data, offset)
            if load_id:
                record["load_id"] = load_id
            else:
                record["source"] = CASH
    elif kind == "door":
        if offset + 3 > len(data):
            raise RecordError("a record is truncated")
        door, result, reason = data[offset:offset + 3]
        record.update(door=door, result=_choice(RESULTS, result, "result"),
                      reason=_choice(REASONS, reason, "reason"))
        offset += 3
    return record, offset


def decode_poll(payload: bytes) -> list[dict[str, Any]]:
    """The records of a POLL answer; RecordError unless the payload is exactly that."""
    if not payload:
        raise RecordError("a POLL answer starts with its count")
    count, offset, records = payload[0], 1, []
    if count > MAX_RECORDS:
        raise RecordError(f"{count} records in one answer (at most 8)")
    for _ in range(count):
        record, offset = decode_record(payload, offset)
        records.append(record)
    if offset != len(payload):
        raise RecordError("bytes after the last record")
    return records
