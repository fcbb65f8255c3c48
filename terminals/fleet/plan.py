"""What passes between the fleet and whoever set it up: plain data and one protocol."""

from __future__ import annotations

import datetime as dt
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
    clock_share: float = 0.7  # share of the run in which the clocks live through the days
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


@dataclass(frozen=True)
class ShiftSpec:
    """A fixed shift as HR set it up: minutes after midnight (`end` at or before `start`:
    the next day), grace minutes for late arrival and early leave, a break in the middle
    and the minutes past the end from which overtime counts."""

    code: str
    start: int
    end: int
    grace: int = 0
    break_minutes: int = 0
    overtime_after: int = 0


@dataclass(frozen=True)
class StaffSpec:
    """A holder on the roster: their number, the card they punch with, their shift."""

    number: str
    card_no: str
    shift: str


@dataclass
class AttendancePlan:
    """The small roster the attendance clocks punch for: every staff member on their
    shift on `work_weekdays` from `first` to `last` and off on the other days, except
    the institution's `holidays` (rest days too)."""

    shifts: list[ShiftSpec]
    staff: list[StaffSpec]
    first: dt.date
    last: dt.date
    work_weekdays: tuple[int, ...] = (1, 2, 3, 4, 5)
    holidays: frozenset[dt.date] = frozenset()


@dataclass
class FleetPlan:
    terminals: list[TerminalSpec]
    cards: list[CardSpec]
    time_zone: str = "Asia/Shanghai"  # the server's: door controllers judge time in it
    attendance: AttendancePlan | None = None  # with attendance clocks


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

    def attendance_leave(self, number: str, start: int, end: int) -> None:
        """Approved leave for the holder from `start` to `end` (Unix seconds)."""
        ...

    def attendance_correction(self, number: str, ts: int) -> None:
        """A punch the holder forgot, added by HR with a reason and approved."""
        ...

    def attendance_tick(self) -> int:
        """The recompute task's turn, as the worker takes it now and then: the days
        marked since are computed; how many."""
        ...

    def attendance_results(self, numbers: Sequence[str], first: dt.date,
                           last: dt.date) -> dict[tuple[str, dt.date], dict[str, int | str | None]]:
        """The server's daily results once its recompute task has run: (number, date) ->
        status, first_in and last_out (Unix seconds or None), late_minutes,
        early_minutes, worked_minutes, overtime_minutes."""
        ...

    def figures(self, card_nos: Sequence[str], terminal_ids: Sequence[str]) -> ServerFigures: ...
