"""Put a software card behind the vsmartcard virtual reader (vpcd), so that the real
PC/SC daemon and pyscard see it as a card in a reader.

vpcd's card-side protocol: each frame is a 2-byte big-endian length then the payload;
a 1-byte payload is a control message (0 power off, 1 power on, 2 reset, 4 ATR
request), anything longer is an APDU to answer."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Protocol

POWER_OFF, POWER_ON, RESET, ATR_REQUEST = 0, 1, 2, 4
# A plain ISO 14443-4 style ATR with no historical bytes beyond the minimum.
DEFAULT_ATR = bytes.fromhex("3B8080010101")


class CardPulled(Exception):
    """Raised by a card's `process_apdu` to leave the field in the middle of a command:
    the relay closes its connection without answering, as a card pulled off the reader
    does (card-applet.md: a command that did not answer changed nothing)."""


class ApduCard(Protocol):
    def process_apdu(self, command: bytes) -> bytes: ...

    def reset(self) -> None: ...


class VirtualCardRelay:
    """Serves one card to vpcd on host:port until `remove()` (the card leaves the field)."""

    def __init__(self, card: ApduCard, *, host: str = "127.0.0.1", port: int = 35963,
                 atr: bytes = DEFAULT_ATR, connect_timeout: float = 10) -> None:
        self.card, self.atr = card, atr
        self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        self.sock.settimeout(None)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _recv_exact(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            try:
                chunk = self.sock.recv(n - len(data))
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def _send(self, payload: bytes) -> bool:
        """False when the connection is gone (the card was taken off meanwhile)."""
        try:
            self.sock.sendall(struct.pack(">H", len(payload)) + payload)
        except OSError:
            return False
        return True

    def _serve(self) -> None:
        while True:
            header = self._recv_exact(2)
            if header is None:
                return
            (length,) = struct.unpack(">H", header)
            payload = self._recv_exact(length)
            if payload is None:
                return
            if length == 1:
                if payload[0] == ATR_REQUEST:
                    if not self._send(self.atr):
                        return
                elif payload[0] in (POWER_OFF, RESET):
                    self.card.reset()
                continue
            try:
                answer = self.card.process_apdu(payload)
            except CardPulled:
                self._close()
                return
            if not self._send(answer):
                return

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def remove(self) -> None:
        """The card leaves the reader: the connection to vpcd closes."""
        self._close()
        self._thread.join(timeout=5)
