"""What passes between the fleet and whoever set it up: plain data and one protocol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# card_no -> purse -> {"account", "card", "pending"} in fen, as the server has them.
Balances = dict[str, dict[str, dict[str, int]]]


@dataclass
class FleetOptions:
    server: str
    seconds: float = 300.0
    offline_rate: float = 0.2  # share of the time a POS spends offline, on average
    duplicate_rate: float = 0.05  # chance that an uploaded batch is sent once more
    batch: int = 500
    seed: int | None = None
    state_dir: str | None = None
    lost_cards: int | None = None  # default: 1 in 50 cards, at least 1
    sync_every: float = 2.0  # seconds between an online terminal's syncs
    offline_for: tuple[float, float] = (3.0, 15.0)  # seconds a POS stays offline at a time
    pause: float = 0.0  # seconds a POS waits between sales (0: as fast as it can)
    progress_every: float = 3.0
    door_pause: float = 0.05  # mean seconds between two cards at a door controller
    access_changes: int = 4  # changes of who may enter, spread over the run (with doors)
    log: Callable[[str], None] | None = None  # progress lines (stderr in the command)


@dataclass(frozen=True)
class TerminalSpec:
    """A registered terminal: `kind` is `pos`, `kiosk` or `door`, `secret` its 64 hex
    characters, `doors` a door controller's door count."""

    terminal_id: str
    secret: str
    kind: str
    doors: int = 0


@dataclass(frozen=True)
class CardSpec:
    """An issued card and what personalising it writes: `uid` and `card_key` in hex."""

    card_no: str
    uid: str
    key_version: int
    card_key: str


@dataclass
class FleetPlan:
    terminals: list[TerminalSpec]
    cards: list[CardSpec]
    time_zone: str = "Asia/Shanghai"  # the server's: door controllers judge time in it


@dataclass
class ServerFigures:
    """The server's figures read back after the run, to hold against the cards."""

    balances: Balances
    contiguous_seq: dict[str, int]  # terminal_id -> highest contiguous terminal_seq held
    problems: list[str] = field(default_factory=list)  # the server's own checks' findings


class Office(Protocol):
    """The card office during the run and at its end, however it reaches the server."""

    def report_loss(self, card_no: str) -> None: ...

    def top_up(self, card_no: str, amount: int) -> bool:
        """Money for the card, pending until a kiosk writes it; False when refused."""
        ...

    def subsidy(self, card_nos: Sequence[str], amount: int) -> None: ...

    def reprice(self, terminal_id: str) -> None:
        """New prices in a menu POS's configuration."""
        ...

    def access_change(self) -> str | None:
        """A change of who may enter where (the security office's), when the fleet has
        door controllers; what was done, or None when nothing was."""
        ...

    def figures(self, card_nos: Sequence[str], terminal_ids: Sequence[str]) -> ServerFigures: ...
