"""The desk reader through PC/SC (pyscard): which readers there are, whether a card is
on one, and a OneCard card on it as an `ApduCard`. pyscard's exceptions stop here:
the rest of the station sees `StationError`s with a message code."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from smartcard.Exceptions import (
    CardConnectionException,
    ListReadersException,
    NoCardException,
    SmartcardException,
)
from smartcard.System import readers as pcsc_readers

from terminals.client.card import ApduCard


class StationError(Exception):
    """A failure to tell the clerk: `code` names the message, `values` fill it in, and
    `exit_code` is what the command exits with."""

    def __init__(self, code: str, exit_code: int = 1, **values: Any) -> None:
        self.code, self.exit_code, self.values = code, exit_code, values
        super().__init__(code, values)


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
    except (ListReadersException, SmartcardException) as exc:
        raise StationError("pcscd_down", detail=str(exc)) from exc


class DeskCard(ApduCard):
    """A card on the reader; a command the card did not answer raises CardRemoved."""

    def __init__(self, connection: Any, reader: str) -> None:
        self.connection, self.reader = connection, reader
        super().__init__(self._transmit_pcsc)

    def _transmit_pcsc(self, command: bytes) -> bytes:
        try:
            data, sw1, sw2 = self.connection.transmit(list(command))
        except (CardConnectionException, NoCardException) as exc:
            raise CardRemoved(str(exc)) from exc
        return bytes(data) + bytes([sw1, sw2])

    def close(self) -> None:
        with contextlib.suppress(SmartcardException):  # the card or reader is gone already
            self.connection.disconnect()


class DeskReader:
    """The reader whose name contains `name` (any reader when None; the first one)."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def states(self) -> list[ReaderState]:
        found = []
        for reader in _all_readers():
            connection = reader.createConnection()
            try:
                connection.connect()
                present = True
                connection.disconnect()
            except (NoCardException, CardConnectionException):
                present = False
            found.append(ReaderState(str(reader), present))
        return found

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
        """The card on the reader, its OneCard application not yet selected."""
        reader = self._reader()
        connection = reader.createConnection()
        try:
            connection.connect()
        except (NoCardException, CardConnectionException) as exc:
            raise StationError("no_card", reader=str(reader)) from exc
        return DeskCard(connection, str(reader))

    def wait_for_card(self, *, other_than: bytes | None, seconds: float,
                      poll: float = 0.2) -> tuple[DeskCard, bytes]:
        """Wait until a card whose UID is not `other_than` is on the reader."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                card = self.connect()
                try:
                    uid = card.read_uid()
                    if uid != other_than:
                        return card, uid
                except CardRemoved:
                    pass
                card.close()
            except StationError as exc:
                if exc.code != "no_card":
                    raise
            if time.monotonic() > deadline:
                raise StationError("no_new_card", seconds=int(seconds))
            time.sleep(poll)
