"""The fleet simulator's set-up, in the server's process: the load test and the
end-to-end check of the terminal protocol.

`CardOffice` does in-process, through the services, what the card office would:
cardholders and cards, top-ups and subsidies, terminal registration and configuration,
the key each card is personalised with (`accounts.keys.card_key`) and, mid-run,
reporting cards lost; at the end it reads the server's figures back. The fleet itself
(`terminals.fleet`) has no Django in it: it gets the terminals and cards as plain data
and reaches the server only over HTTP.

Door controllers (`options.door_controllers`) need doors, areas, schedules and groups,
which belong to `access`, a floor above this one: the caller hands `run_simulation` an
`AccessSetup` (`access.simulation.security_office` is the one the commands use), which
sets them up through access's services and plays the security office during the run.

Attendance clocks (`options.attendance_clocks`) punch for a small roster, which belongs
to `attendance`, also above: the caller hands in an `AttendanceSetup`
(`attendance.simulation.hr_office`), which makes the shifts and the roster, records
leave and corrections as HR, and reads the daily results back at the end.

`run_simulation(options, access_setup, attendance_setup)` sets up, runs the fleet and
returns its `Summary`; the `simulate` command, `load_demo` and the benchmark call it.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts import services
from accounts.keys import card_key, key_import
from accounts.models import KeyPurpose, Purse, TopUpMethod
from accounts.selectors import card_balances, card_get, key_stored, ledger_check
from core.errors import DomainError
from terminals.fleet.fleet import run_fleet
from terminals.fleet.plan import (
    AttendancePlan,
    CardSpec,
    FleetOptions,
    FleetPlan,
    ServerFigures,
    TerminalSpec,
)
from terminals.fleet.summary import Summary
from terminals.models import Terminal, TerminalKind
from terminals.selectors import terminal_get
from terminals.services import terminal_config_update, terminal_register

__all__ = ["AccessSetup", "AttendanceSetup", "CardOffice", "HrOffice", "HrSetup",
           "SecurityOffice", "SecuritySetup", "SimulationOptions", "Summary", "run_simulation"]

CHANNEL = "simulator"
MENU: list[dict[str, Any]] = [
    {"key": 1, "name": "Rice", "amount": 150},
    {"key": 2, "name": "Noodles", "amount": 800},
    {"key": 3, "name": "Set meal", "amount": 1500},
    {"key": 4, "name": "Soup", "amount": 300},
]
POS_PARAMS: list[dict[str, Any]] = [
    {"mode": "free", "max_amount": 5000},
    {"mode": "menu", "menu": MENU, "max_amount": 5000},
    {"mode": "fixed", "fixed_amount": 500, "max_amount": 5000},
]
# Fen. Generous, so that a compressed day of sales does not wait on the kiosks.
OPENING_TOP_UP = (200_000, 600_000)  # per card, reaches the card through a kiosk


@dataclass
class SimulationOptions(FleetOptions):
    pos: int = 10
    kiosks: int = 2
    cards: int = 500
    door_controllers: int = 0
    doors_per_controller: int = 3
    attendance_clocks: int = 0
    attendance_staff: int = 20  # of the cards' holders, on the clocks' roster
    attendance_days: int = 14  # days punched, ending the day before yesterday


@dataclass(frozen=True)
class SecuritySetup:
    """What the security office's set-up gets: who acts, a tag for unique codes, the
    door controllers registered for the run, the cards issued, and the run's length."""

    by: Any
    tag: str
    controllers: list[str]  # terminal ids
    card_nos: list[str]
    seconds: float
    rng: random.Random


class SecurityOffice(Protocol):
    def change(self) -> str | None:
        """One change of who may enter where; what was done."""
        ...


AccessSetup = Callable[[SecuritySetup], SecurityOffice]


@dataclass(frozen=True)
class HrSetup:
    """What HR's set-up gets: who acts, a tag for unique codes, the staff's cards (the
    first holders of the run's cards) and the days to roster."""

    by: Any
    tag: str
    card_nos: list[str]
    first: dt.date
    last: dt.date
    rng: random.Random


class HrOffice(Protocol):
    plan: AttendancePlan

    def leave(self, number: str, start: int, end: int) -> None: ...

    def correction(self, number: str, ts: int) -> None: ...

    def tick(self) -> int: ...

    def results(self, numbers: Sequence[str], first: dt.date,
                last: dt.date) -> dict[tuple[str, dt.date], dict[str, int | str | None]]: ...


AttendanceSetup = Callable[[HrSetup], HrOffice]


class CardOffice:
    """Everything the simulator does as the card office, with the Django ORM: the
    `terminals.fleet.plan.Office` of a fleet run in this process."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.by, _created = get_user_model().objects.get_or_create(
            username="simulator", defaults={"is_staff": True}
        )
        self.tag = f"{int(time.time()):x}{rng.randrange(16**3):03x}"
        self.security: SecurityOffice | None = None  # with door controllers
        self.hr: HrOffice | None = None  # with attendance clocks

    def ensure_purse_key(self) -> None:
        if not key_stored(KeyPurpose.PURSE):
            key_import(purpose=KeyPurpose.PURSE, version=1, key_hex=secrets.token_hex(16),
                       by=self.by, channel=CHANNEL)

    def register(self, kind: str, n: int, params: dict[str, Any] | None = None, *,
                 doors: int = 0) -> TerminalSpec:
        merchant = f"SIM-C{n % 3 + 1}" if kind == TerminalKind.POS else None
        terminal, secret = terminal_register(
            kind=kind, name=f"Simulated {kind} {self.tag}-{n}", merchant_code=merchant,
            doors=doors, by=self.by, channel=CHANNEL,
        )
        if params:
            terminal_config_update(terminal=terminal, params=params, by=self.by, channel=CHANNEL)
        return TerminalSpec(terminal.terminal_id, secret, kind, doors)

    def issue(self, i: int) -> CardSpec:
        """A card issued to a new holder, and what personalising it writes (the card's
        UID comes from the OS, not the seed: earlier runs' cards are live)."""
        holder = services.cardholder_create(
            number=f"SIM{self.tag}-{i:05d}", name=f"Simulated holder {i}", kind="student",
            by=self.by, channel=CHANNEL,
        )
        uid = "04" + secrets.token_hex(6)  # 7 bytes, first byte 04 as NXP's are
        card = services.card_issue(cardholder=holder, uid=uid, by=self.by, channel=CHANNEL)
        return CardSpec(card.card_no, card.uid, card.key_version, card_key(card).hex())

    # --- During the run (terminals.fleet.plan.Office) ---------------------------------------

    def top_up(self, card_no: str, amount: int) -> bool:
        try:
            services.card_top_up(card=card_get(card_no), amount=amount, purse=Purse.MAIN,
                                 method=TopUpMethod.BANK, by=self.by, reference="simulator",
                                 channel=CHANNEL)
        except DomainError:  # the purse is full: the holder spends first
            return False
        return True

    def subsidy(self, card_nos: Sequence[str], amount: int) -> None:
        holders = [card_get(n).cardholder.number for n in card_nos]
        services.subsidy_batch_create(
            name=f"Simulated subsidy {self.tag}-{self.rng.randrange(10**9)}", purse=Purse.SUBSIDY,
            entries=[{"cardholder": h, "amount": amount} for h in holders], by=self.by,
            channel=CHANNEL,
        )

    def report_loss(self, card_no: str) -> None:
        services.card_report_loss(card=card_get(card_no), by=self.by, channel=CHANNEL)

    def access_change(self) -> str | None:
        return self.security.change() if self.security is not None else None

    def _hr(self) -> HrOffice:
        if self.hr is None:
            raise RuntimeError("no attendance set-up in this run")
        return self.hr

    def attendance_leave(self, number: str, start: int, end: int) -> None:
        self._hr().leave(number, start, end)

    def attendance_correction(self, number: str, ts: int) -> None:
        self._hr().correction(number, ts)

    def attendance_tick(self) -> int:
        return self._hr().tick()

    def attendance_results(self, numbers: Sequence[str], first: dt.date,
                           last: dt.date) -> dict[tuple[str, dt.date], dict[str, int | str | None]]:
        return self._hr().results(numbers, first, last)

    def reprice(self, terminal_id: str) -> None:
        menu = [{**item, "amount": item["amount"] + 50} for item in MENU]
        terminal_config_update(terminal=terminal_get(terminal_id), params={"menu": menu},
                               by=self.by, channel=CHANNEL)

    def figures(self, card_nos: Sequence[str], terminal_ids: Sequence[str]) -> ServerFigures:
        """Each card's balances and each terminal's contiguous seq as stored, and the
        ledger's own check."""
        return ServerFigures(
            balances={n: card_balances(card_get(n)) for n in card_nos},
            contiguous_seq=dict(Terminal.objects.filter(terminal_id__in=terminal_ids)
                                .values_list("terminal_id", "contiguous_seq")),
            problems=[f"ledger: {x.rule} {x.subject} {x.detail}" for x in ledger_check()],
        )


def run_simulation(options: SimulationOptions, access_setup: AccessSetup | None = None,
                   attendance_setup: AttendanceSetup | None = None) -> Summary:
    if options.door_controllers and access_setup is None:
        raise ValueError("door controllers need an access set-up (access.simulation)")
    if options.attendance_clocks and attendance_setup is None:
        raise ValueError("attendance clocks need an attendance set-up (attendance.simulation)")
    rng = random.Random(options.seed)
    log = options.log or (lambda line: None)
    office = CardOffice(rng)
    office.ensure_purse_key()
    log(f"card office: issuing {options.cards} cards and registering "
        f"{options.pos + options.kiosks + options.door_controllers + options.attendance_clocks}"
        " terminals ...")
    cards = [office.issue(i) for i in range(options.cards)]
    for c in cards:
        office.top_up(c.card_no, rng.randrange(*OPENING_TOP_UP, 100))
    terminals = [office.register(TerminalKind.POS, n, POS_PARAMS[n % len(POS_PARAMS)])
                 for n in range(options.pos)]
    terminals += [office.register(TerminalKind.KIOSK, n) for n in range(options.kiosks)]
    doors = [office.register(TerminalKind.DOOR, n, doors=options.doors_per_controller)
             for n in range(options.door_controllers)]
    clocks = [office.register(TerminalKind.ATTENDANCE, n)
              for n in range(options.attendance_clocks)]
    attendance: AttendancePlan | None = None
    if clocks and attendance_setup is not None:
        last = timezone.localdate() - dt.timedelta(days=2)  # a night shift's end is past
        first = last - dt.timedelta(days=max(1, options.attendance_days) - 1)
        staff = [c.card_no for c in cards[:max(1, min(options.attendance_staff, len(cards)))]]
        log(f"HR: shifts and a roster of {len(staff)} staff from {first} to {last} for "
            f"{len(clocks)} attendance clocks ...")
        office.hr = attendance_setup(HrSetup(by=office.by, tag=office.tag, card_nos=staff,
                                             first=first, last=last, rng=rng))
        attendance = office.hr.plan
    if doors and access_setup is not None:
        log(f"security office: doors, areas, schedules and groups for {len(doors)} door "
            f"controllers ...")
        office.security = access_setup(SecuritySetup(
            by=office.by, tag=office.tag, controllers=[d.terminal_id for d in doors],
            card_nos=[c.card_no for c in cards], seconds=options.seconds, rng=rng))
    plan = FleetPlan([*terminals, *doors, *clocks], cards, time_zone=settings.TIME_ZONE,
                     attendance=attendance)
    return run_fleet(options, plan, office, rng)
