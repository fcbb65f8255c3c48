"""Cards as a terminal sees them: `SoftCard`, a software OneCard card that follows
card-applet.md (with an APDU front for the virtual reader), and `ApduCard`, any card
reached by APDUs. Terminals use either through the `Card` protocol.
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from terminals.client import apdu
from terminals.client.apdu import SW, CardError, CardInfo, Command, TransactResult
from terminals.client.protocol import KINDS, MAIN, PURCHASE, PURSES, compute_tac

__all__ = ["ApduCard", "Card", "CardError", "CardInfo", "SoftCard", "TransactResult"]

MAX_PURSE = 1_000_000  # fen; the card refuses a load past it (9402)
CARD_NO_PATTERN = re.compile(r"^[0-9]{8,19}$")
TERMINAL_ID_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,32}$")


class Card(Protocol):
    """What a terminal needs of a card in its field."""

    def get_status(self) -> CardInfo: ...

    def transact(
        self, kind: str, purse: str, amount: int, ts: int, terminal_seq: int, terminal_id: str
    ) -> TransactResult: ...


@dataclass(frozen=True)
class _State:
    """Everything a card keeps in non-volatile memory."""

    uid: bytes
    personalised: bool = False
    key_version: int = 0
    card_key: bytes = b""
    card_no: str = ""
    card_seq: int = 0
    main: int = 0
    subsidy: int = 0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "uid": self.uid.hex(), "card_key": self.card_key.hex()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _State:
        return cls(
            **{
                **data,
                "uid": bytes.fromhex(data["uid"]),
                "card_key": bytes.fromhex(data["card_key"]),
            }
        )


def _u32(value: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= apdu.U32_MAX


class SoftCard:
    """A OneCard card in software.

    With `path`, the card's memory is a JSON file replaced atomically before a command
    answers: a TRANSACT that returned is final, one that raised changed nothing, as on
    the real card. Without `path` it lives in memory only. One lock serialises commands.
    """

    def __init__(self, uid: bytes, *, path: str | Path | None = None) -> None:
        if not 4 <= len(uid) <= 10:
            raise ValueError("a UID is 4 to 10 bytes")
        self._state = _State(uid=bytes(uid))
        self._path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._selected = False
        if self._path is not None:
            self._write(self._state)

    @classmethod
    def new(cls, rng: random.Random | None = None, *, path: str | Path | None = None) -> SoftCard:
        """A blank card with a random 7-byte UID (first byte 04, as NXP's are)."""
        rng = rng or random.Random()
        return cls(b"\x04" + rng.randbytes(6), path=path)

    @classmethod
    def in_use(
        cls,
        uid: bytes,
        *,
        key_version: int,
        card_key: bytes,
        card_no: str,
        card_seq: int = 0,
        main: int = 0,
        subsidy: int = 0,
    ) -> SoftCard:
        """A personalised card whose memory already holds this counter and these purses:
        a card met in the middle of its life (a test or a benchmark picking up a card
        where the server's records left it). In memory only."""
        if not (_u32(card_seq) and all(_u32(b) and b <= MAX_PURSE for b in (main, subsidy))):
            raise ValueError("card_seq is 0..2^32-1 and each purse 0..1,000,000 fen")
        card = cls(uid)
        card.personalise(key_version, card_key, card_no)
        card._state = replace(card._state, card_seq=card_seq, main=main, subsidy=subsidy)
        return card

    @classmethod
    def open(cls, path: str | Path) -> SoftCard:
        """The card whose memory is in `path` (written by an earlier SoftCard)."""
        state = _State.from_json(json.loads(Path(path).read_text(encoding="ascii")))
        card = cls.__new__(cls)
        card._state, card._path = state, Path(path)
        card._lock, card._selected = threading.Lock(), False
        return card

    # --- What is on the card ------------------------------------------------------------

    @property
    def uid(self) -> bytes:
        return self._state.uid

    @property
    def personalised(self) -> bool:
        return self._state.personalised

    @property
    def key_version(self) -> int:
        return self._state.key_version

    @property
    def card_key(self) -> bytes:
        return self._state.card_key

    @property
    def card_no(self) -> str:
        return self._state.card_no

    @property
    def card_seq(self) -> int:
        return self._state.card_seq

    @property
    def main(self) -> int:
        return self._state.main

    @property
    def subsidy(self) -> int:
        return self._state.subsidy

    def balance(self, purse: str) -> int:
        return self._state.main if purse == MAIN else self._state.subsidy

    # --- Commands -----------------------------------------------------------------------

    def get_status(self) -> CardInfo:
        s = self._state
        return CardInfo(s.personalised, s.key_version, s.card_seq, s.main, s.subsidy, s.card_no)

    def personalise(self, key_version: int, card_key: bytes, card_no: str) -> None:
        """Write the key and number, once; a personalised card refuses with 6985."""
        with self._lock:
            if self._state.personalised:
                raise CardError(SW.CONDITIONS, "the card is already personalised")
            if not 1 <= key_version <= 255 or len(card_key) != apdu.CARD_KEY_BYTES:
                raise CardError(SW.WRONG_DATA, "key_version 1-255 and a 16-byte key")
            if not CARD_NO_PATTERN.match(card_no):
                raise CardError(SW.WRONG_DATA, "card_no is 8 to 19 digits")
            self._commit(
                replace(
                    self._state,
                    personalised=True,
                    key_version=key_version,
                    card_key=bytes(card_key),
                    card_no=card_no,
                )
            )

    def transact(
        self, kind: str, purse: str, amount: int, ts: int, terminal_seq: int, terminal_id: str
    ) -> TransactResult:
        """A purchase or load on one purse; returns the new card_seq, the balance before
        and the TAC. Refuses (CardError, nothing changed) in this order: 6A86 unknown
        kind or purse, 6985 not personalised, 6A80 amount 0 or malformed, 9401 purchase
        larger than the purse, 9402 load past 1,000,000."""
        if kind not in KINDS or purse not in PURSES:
            raise CardError(SW.WRONG_P1P2)
        with self._lock:
            state = self._state
            if not state.personalised or state.card_seq >= apdu.U32_MAX:
                raise CardError(SW.CONDITIONS, "the card is not personalised")
            if not (_u32(amount) and amount > 0 and _u32(ts) and _u32(terminal_seq)):
                raise CardError(SW.WRONG_DATA, "amount, ts and terminal_seq are 1..2^32-1")
            if not TERMINAL_ID_PATTERN.match(terminal_id):
                raise CardError(SW.WRONG_DATA, "terminal_id is [A-Za-z0-9-]{1,32}")
            before = state.main if purse == MAIN else state.subsidy
            if kind == PURCHASE:
                if amount > before:
                    raise CardError(SW.INSUFFICIENT, "the purse holds less than the amount")
                after = before - amount
            else:
                if before + amount > MAX_PURSE:
                    raise CardError(SW.BALANCE_LIMIT, "the purse would exceed its maximum")
                after = before + amount
            card_seq = state.card_seq + 1
            tac = compute_tac(
                state.card_key,
                type=kind,
                card_no=state.card_no,
                card_seq=card_seq,
                purse=purse,
                amount=amount,
                balance_before=before,
                terminal_id=terminal_id,
                terminal_seq=terminal_seq,
                ts=ts,
            )
            if purse == MAIN:
                self._commit(replace(state, card_seq=card_seq, main=after))
            else:
                self._commit(replace(state, card_seq=card_seq, subsidy=after))
            return TransactResult(card_seq, before, tac)

    # --- The APDU front (for the virtual reader) ----------------------------------------

    def reset(self) -> None:
        """Power cycle: the application must be selected again."""
        self._selected = False

    def process_apdu(self, command: bytes) -> bytes:
        """Answer one APDU with data and status word, exactly as card-applet.md says.

        Beyond the spec's table: 6A86 for P1/P2 this profile does not use, 6A82 for
        SELECT of another application, and 6985 for a card command before SELECT."""
        try:
            return apdu.with_sw(self._dispatch(Command.decode(command)))
        except CardError as exc:
            return apdu.with_sw(b"", exc.sw)

    def _dispatch(self, cmd: Command) -> bytes:
        if cmd.cla == apdu.CLA_READER:
            if cmd.ins != apdu.INS_GET:
                raise CardError(SW.INS_UNKNOWN)
            _require(cmd, p1=0x00, data=False)
            return self.uid
        if cmd.cla == apdu.CLA_ISO:
            if cmd.ins != apdu.INS_SELECT:
                raise CardError(SW.INS_UNKNOWN)
            _require(cmd, p1=0x04, data=True)
            self._selected = cmd.data == apdu.AID
            if not self._selected:
                raise CardError(SW.FILE_NOT_FOUND)
            return b""
        if cmd.cla != apdu.CLA_PROPRIETARY:
            raise CardError(SW.CLA_UNKNOWN)
        handler = self._handlers().get(cmd.ins)
        if handler is None:
            raise CardError(SW.INS_UNKNOWN)
        if not self._selected:
            raise CardError(SW.CONDITIONS, "SELECT the OneCard application first")
        return handler(cmd)

    def _handlers(self) -> dict[int, Callable[[Command], bytes]]:
        return {
            apdu.INS_GET: self._apdu_get_status,
            apdu.INS_PERSONALISE: self._apdu_personalise,
            apdu.INS_TRANSACT: self._apdu_transact,
        }

    def _apdu_get_status(self, cmd: Command) -> bytes:
        _require(cmd, p1=0x00, data=False)
        return apdu.encode_info(self.get_status())

    def _apdu_personalise(self, cmd: Command) -> bytes:
        _require(cmd, p1=0x00, data=True)
        if len(cmd.data) < 1 + apdu.CARD_KEY_BYTES + 1:
            raise CardError(SW.WRONG_LENGTH)
        card_no, end = apdu.read_lv(cmd.data, 1 + apdu.CARD_KEY_BYTES)
        if end != len(cmd.data):
            raise CardError(SW.WRONG_LENGTH)
        self.personalise(cmd.data[0], cmd.data[1 : 1 + apdu.CARD_KEY_BYTES], card_no)
        return b""

    def _apdu_transact(self, cmd: Command) -> bytes:
        kind, purse = apdu.P1_KIND.get(cmd.p1), apdu.P2_PURSE.get(cmd.p2)
        if kind is None or purse is None:
            raise CardError(SW.WRONG_P1P2)
        if len(cmd.data) < 13:
            raise CardError(SW.WRONG_LENGTH)
        amount, ts, terminal_seq = struct.unpack(">III", cmd.data[:12])
        terminal_id, end = apdu.read_lv(cmd.data, 12)
        if end != len(cmd.data):
            raise CardError(SW.WRONG_LENGTH)
        return apdu.encode_result(self.transact(kind, purse, amount, ts, terminal_seq, terminal_id))

    # --- Non-volatile memory ------------------------------------------------------------

    def _commit(self, state: _State) -> None:
        if self._path is not None:
            self._write(state)
        self._state = state

    def _write(self, state: _State) -> None:
        assert self._path is not None
        directory = self._path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self._path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                json.dump(state.as_json(), f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _require(cmd: Command, *, p1: int, data: bool) -> None:
    """P1 as given and P2 00 (else 6A86); data present or absent as the command needs (6700)."""
    if cmd.p1 != p1 or cmd.p2 != 0x00:
        raise CardError(SW.WRONG_P1P2)
    if bool(cmd.data) != data:
        raise CardError(SW.WRONG_LENGTH)


class ApduCard:
    """A OneCard card behind any `transmit(apdu) -> answer`: a PC/SC reader (pyscard),
    the virtual reader, or `SoftCard.process_apdu` itself."""

    def __init__(self, transmit: Callable[[bytes], bytes]) -> None:
        self._transmit = transmit

    def _send(self, cmd: Command) -> bytes:
        return apdu.expect_ok(self._transmit(cmd.encode()))

    def read_uid(self) -> bytes:
        return self._send(apdu.get_uid())

    def select(self) -> None:
        self._send(apdu.select())

    def get_status(self) -> CardInfo:
        return apdu.decode_info(self._send(apdu.get_status()))

    def personalise(self, key_version: int, card_key: bytes, card_no: str) -> None:
        self._send(apdu.personalise(key_version, card_key, card_no))

    def transact(
        self, kind: str, purse: str, amount: int, ts: int, terminal_seq: int, terminal_id: str
    ) -> TransactResult:
        cmd = apdu.transact(kind, purse, amount, ts, terminal_seq, terminal_id)
        return apdu.decode_result(self._send(cmd))
