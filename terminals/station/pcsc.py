"""The desk reader through PC/SC (pyscard): which readers there are, whether a card is
on one, and a OneCard card on it as an `ApduCard`. pyscard's exceptions stop here:
the rest of the station sees `StationError`s with a message code."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from smartcard import scard
from smartcard.Exceptions import (
    CardConnectionException,
    ListReadersException,
    NoCardException,
    SmartcardException,
)
from smartcard.pcsc.PCSCExceptions import BaseSCardException
from smartcard.System import readers as pcsc_readers

from terminals.client import apdu
from terminals.client.card import ApduCard
from terminals.client.i18n import MessageError


class StationError(MessageError):
    """A failure to tell the clerk; `exit_code` is what the command exits with."""

    def __init__(self, code: str, exit_code: int = 1, **values: Any) -> None:
        super().__init__(code, **values)
        self.exit_code = exit_code


class CardRemoved(StationError):
    def __init__(self, detail: str) -> None:
        super().__init__("card_removed", detail=detail)


@dataclass(frozen=True)
class ReaderState:
    name: str
    card_present: bool


def _all_readers() -> list[Any]:
    try:
        return list(pcsc_readers())
    except (ListReadersException, SmartcardException, BaseSCardException) as exc:
        raise StationError("pcscd_down", detail=str(exc)) from exc


def card_present(reader_name: str) -> bool:
    """Whether pcscd sees a card in the reader, from the reader's state (no connection,
    so the card is neither powered nor reset by asking)."""
    rv, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if rv != scard.SCARD_S_SUCCESS:
        raise StationError("pcscd_down", detail=scard.SCardGetErrorMessage(rv))
    try:
        rv, states = scard.SCardGetStatusChange(context, 0,
                                                [(reader_name, scard.SCARD_STATE_UNAWARE)])
        if rv != scard.SCARD_S_SUCCESS:
            raise StationError("reader_not_found", name=reader_name, readers="-")
        return bool(states[0][1] & scard.SCARD_STATE_PRESENT)
    finally:
        scard.SCardReleaseContext(context)


def release(connection: Any) -> None:
    """Disconnect and release the connection's PC/SC context now. Left to the garbage
    collector, pyscard's finaliser raises once pcscd has gone, at whatever moment the
    collector runs (even in the middle of Python 3.11 compiling a module)."""
    with contextlib.suppress(SmartcardException):  # the card or reader is gone already
        connection.release()


class DeskCard(ApduCard):
    """A card on the reader; a command the card did not answer raises CardRemoved.

    Another program on the same reader may reset the card (PC/SC allows shared use).
    pcscd then refuses the next command before it reaches the card, so the command is
    sent again once on a fresh handle, after selecting the application again."""

    def __init__(self, connection: Any, reader: str) -> None:
        self.connection, self.reader = connection, reader
        self.uid = b""  # read by DeskReader.connect
        self._selected = False
        super().__init__(self._transmit_pcsc)

    def _raw(self, command: bytes) -> bytes:
        data, sw1, sw2 = self.connection.transmit(list(command))
        return bytes(data) + bytes([sw1, sw2])

    def _transmit_pcsc(self, command: bytes) -> bytes:
        try:
            try:
                answer = self._raw(command)
            except CardConnectionException as exc:
                if exc.hresult != scard.SCARD_W_RESET_CARD:
                    raise
                self.connection.reconnect(disposition=scard.SCARD_LEAVE_CARD)
                if self._selected and command[0] != apdu.CLA_READER:
                    self._raw(apdu.select().encode())
                answer = self._raw(command)
        except (CardConnectionException, NoCardException) as exc:
            raise CardRemoved(str(exc)) from exc
        if command[:2] == bytes([apdu.CLA_ISO, apdu.INS_SELECT]):
            self._selected = answer[-2:] == b"\x90\x00"
        return answer

    def close(self) -> None:
        release(self.connection)


class DeskReader:
    """The reader whose name contains `name` (any reader when None; the first one)."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def states(self) -> list[ReaderState]:
        """Every reader (those matching the name, when one is given) and whether a card
        is on it."""
        every = _all_readers()
        chosen = [r for r in every if self.name is None or self.name.lower() in str(r).lower()]
        if every and not chosen:
            raise StationError("reader_not_found", name=self.name,
                               readers=", ".join(str(r) for r in every))
        return [ReaderState(str(r), card_present(str(r))) for r in chosen]

    def _reader(self) -> Any:
        every = _all_readers()
        if not every:
            raise StationError("no_reader")
        if self.name is None:
            return every[0]
        for reader in every:
            if self.name.lower() in str(reader).lower():
                return reader
        raise StationError("reader_not_found", name=self.name,
                           readers=", ".join(str(r) for r in every))

    def connect(self) -> DeskCard:
        """The card on the reader, its OneCard application not yet selected.

        A card that has just arrived may first answer "card was reset" to a fresh
        connection; one more connection then finds it ready."""
        reader = self._reader()
        for attempt in range(2):
            connection = reader.createConnection()
            try:
                connection.connect(disposition=scard.SCARD_LEAVE_CARD)
                card = DeskCard(connection, str(reader))
                card.uid = card.read_uid()
                return card
            except (NoCardException, CardConnectionException, CardRemoved) as exc:
                release(connection)
                if attempt or not card_present(str(reader)):
                    raise StationError("no_card", reader=str(reader)) from exc
        raise AssertionError("unreachable")

    def wait_for_card(self, *, other_than: bytes | None, seconds: float,
                      poll: float = 0.2) -> DeskCard:
        """Wait until a card whose UID is not `other_than` is on the reader."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                card = self.connect()
                if card.uid != other_than:
                    return card
                card.close()
            except StationError as exc:
                if exc.code != "no_card":
                    raise
            if time.monotonic() > deadline:
                raise StationError("no_new_card", seconds=int(seconds))
            time.sleep(poll)
