"""The real PC/SC stack for hardware tests: pcscd with the vsmartcard virtual reader
(Debian packages pcscd, vsmartcard-vpcd; installed by `make deps`) and our software
card behind it. pyscard then sees a reader with a card, as on a desk."""

from __future__ import annotations

import gc
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

VPCD_PORT = 35963
VPCD_READER = "Virtual PCD 00 00"  # the slot behind port 35963


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def pcscd() -> Iterator[None]:
    """pcscd running with the vpcd driver (started here when not already running)."""
    started = None
    if not _port_open(VPCD_PORT):
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        started = subprocess.Popen([binary, "--foreground"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not _port_open(VPCD_PORT):
            assert started.poll() is None, "pcscd exited"
            assert time.monotonic() < deadline, "vpcd did not listen on 35963"
            time.sleep(0.1)
    yield
    gc.collect()  # pyscard's finalisers must run while pcscd is still there
    if started is not None:
        started.terminate()
        started.wait(timeout=10)


def _vpcd_card_present() -> bool:
    from terminals.station.pcsc import card_present

    return card_present(VPCD_READER)


def _answers_get_uid() -> bool:
    from smartcard import scard
    from smartcard.Exceptions import SmartcardException
    from smartcard.System import readers

    from terminals.station.pcsc import release

    reader = next(r for r in readers() if str(r) == VPCD_READER)
    connection = reader.createConnection()
    try:
        connection.connect(disposition=scard.SCARD_LEAVE_CARD)  # leave the card as it is
        _data, sw1, sw2 = connection.transmit([0xFF, 0xCA, 0x00, 0x00, 0x00])
        return (sw1, sw2) == (0x90, 0x00)
    except SmartcardException:
        return False
    finally:
        release(connection)


class VirtualReader:
    """The desk's reader slot: put a software card on it or take it off, and wait until
    pcscd has noticed (it polls the virtual reader).

    vpcd notices a card's socket closing only at its next poll; a card connecting before
    then is not seen. So a removal waits for the slot to read empty and then a little
    longer, and an insertion is checked with a GET UID and retried."""

    SETTLE = 0.4  # seconds after the slot reads empty

    def __init__(self) -> None:
        self.relay: Any = None
        self.card: Any = None

    def insert(self, card: Any) -> None:
        from terminals.client.vpcd import VirtualCardRelay

        self.remove()
        for _attempt in range(5):
            try:
                self.card, self.relay = card, VirtualCardRelay(card, connect_timeout=2)
            except OSError:  # vpcd has not taken the last card's leaving in yet
                time.sleep(self.SETTLE)
                continue
            if self._wait(present=True, seconds=3) and _answers_get_uid():
                return
            self.remove()
        raise AssertionError("pcscd did not take the card")

    def remove(self) -> None:
        if self.relay is not None:
            self.relay.remove()
            self.relay = self.card = None
            assert self._wait(present=False, seconds=10), "pcscd still sees the card"
            time.sleep(self.SETTLE)

    @staticmethod
    def _wait(*, present: bool, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while _vpcd_card_present() != present:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


@pytest.fixture
def desk_reader(pcscd: None) -> Iterator[VirtualReader]:
    reader = VirtualReader()
    yield reader
    reader.remove()
