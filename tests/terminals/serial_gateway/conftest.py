"""The serial line and the campus for the gateway's tests.

- `pty_pair`: two pseudo-terminals joined by socat (`pty,raw,echo=0` both ends), the
  gateway on one and the reader emulator on the other, as a USB RS-485 adapter and
  the bus would be (`emulator.pty_pair`).
- `TcpSwitch`: a small TCP relay in front of the live server that a test can switch
  off (refusing connections and cutting open ones, as a dead server or network) and
  on again at the same address.
- `Campus`: the card office's set-up through the services (`CardOffice` of the
  simulator): POS readers registered as terminals, cards issued and their keys
  personalised onto the fleet's `SoftCard`s, so the server checks the TACs the readers
  make.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import serial

from terminals.fleet.fleet import SimCard, cards_check
from terminals.serial_gateway import emulator
from terminals.serial_gateway.config import GatewayConfig, ReaderConfig, Timings
from terminals.serial_gateway.emulator import EmulatedReader
from terminals.simulator import CardOffice
from tests.tcp_switch import TcpSwitch

# Quick timings, so a test sees heartbeats, STATUS and back-off within seconds.
FAST = Timings(status_interval=0.5, heartbeat_interval=0.3, blacklist_interval=0.5,
               upload_interval=0.2)


def wait_for(condition: Callable[[], object], seconds: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.05)


@pytest.fixture
def pty_pair() -> Iterator[tuple[str, str]]:
    with emulator.pty_pair() as names:
        yield names


def open_port(device: str, baud: int = 19200) -> serial.Serial:
    return serial.Serial(device, baudrate=baud, timeout=0.005)


@pytest.fixture
def server_switch(live_server) -> Iterator[TcpSwitch]:
    switch = TcpSwitch(live_server.url)
    switch.on()
    yield switch
    switch.off()


@dataclass
class Campus:
    """Registered POS readers (each an emulated reader at an address) and issued,
    personalised cards."""

    office: CardOffice
    readers: list[EmulatedReader] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    cards: list[SimCard] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)

    def add_readers(self, n: int, first_address: int = 1) -> list[EmulatedReader]:
        new = []
        for i in range(n):
            registered = self.office.register("pos", len(self.readers), {"collect_loads": True})
            reader = EmulatedReader(first_address + i, registered.terminal_id)
            self.secrets[registered.terminal_id] = registered.secret
            self.readers.append(reader)
            new.append(reader)
        return new

    def add_cards(self, n: int) -> list[SimCard]:
        new = [SimCard.of(self.office.issue(len(self.cards) + i)) for i in range(n)]
        self.cards += new
        return new

    def fill(self, reader: EmulatedReader, sales: int) -> None:
        """Cash on a card at this reader, then that many sales on the campus's cards."""
        for card in self.cards:
            if card.soft.main < 20_000:
                reader.cash_load(card.soft, 50_000)
        for _ in range(sales):
            reader.sell(self.rng.choice(self.cards).soft,
                        self.rng.choice((150, 300, 800, 1250)))

    def stock(self, *, cards: int, readers: int, sales: int, first_address: int,
              seed: int) -> list[EmulatedReader]:
        """Cards, then readers full of sales on them (the rng is kept for more)."""
        self.rng = random.Random(seed)
        self.add_cards(cards)
        new = self.add_readers(readers, first_address)
        for reader in new:
            self.fill(reader, sales)
        return new

    def check(self) -> list[str]:
        """The cards' balances against the server's figures, and the whole ledger."""
        figures = self.office.figures([c.card_no for c in self.cards], [])
        return cards_check(self.cards, figures) + figures.problems

    def config(self, server_url: str, queue: Path, timings: Timings = FAST) -> GatewayConfig:
        return GatewayConfig(
            server_url=server_url, queue_path=queue, timings=timings, server_timeout=5,
            readers=[ReaderConfig(r.address, r.terminal_id, self.secrets[r.terminal_id])
                     for r in self.readers])

    def toml(self, server_url: str, queue: Path, timings: Timings = FAST) -> str:
        lines = [f'[server]\nurl = "{server_url}"\ntimeout = 5\n',
                 f'[queue]\npath = "{queue}"\n', "[gateway]"]
        lines += [f"{name} = {getattr(timings, name)}" for name in Timings.__dataclass_fields__]
        for r in self.readers:
            lines.append(f'\n[[reader]]\naddress = {r.address}\nterminal_id = '
                         f'"{r.terminal_id}"\nsecret = "{self.secrets[r.terminal_id]}"')
        return "\n".join(lines) + "\n"


@pytest.fixture
def campus(purse_key) -> Campus:
    return Campus(CardOffice(random.Random(6)))
