"""A fleet of terminals against a live OneCard server: the load test and the end-to-end
check of the terminal protocol.

Two parts, kept apart on purpose:

- `CardOffice` does the set-up in-process through the services, as the card office
  would: cardholders and cards, top-ups and subsidies, terminal registration and
  configuration, personalising each card (its key from `accounts.keys.card_key`), and,
  mid-run, reporting cards lost. At the end it reads the balances back.
- `Fleet` plays POS readers and kiosks built on `terminals.client` and speaks only HTTP
  to the server: POS sell in their configured mode, go offline at random and upload
  their backlog later, and sometimes re-upload a batch already sent; kiosks write
  pending loads and take cash. The cards are `SoftCard`s, one holder at a time.

`run_simulation(options)` runs both and returns a `Summary`; the `simulate` command and
the benchmark call it.
"""

from __future__ import annotations

import queue
import random
import secrets
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model

from accounts import services
from accounts.keys import card_key, key_import
from accounts.models import KeyPurpose, Purse, StoredKey, TopUpMethod
from accounts.selectors import card_balances, card_get, ledger_check
from core.errors import DomainError
from terminals.client.card import SoftCard
from terminals.client.http import ClientError, TerminalClient
from terminals.client.queue import RecordQueue
from terminals.client.terminal import KioskTerminal, PosTerminal, Refusal, Terminal
from terminals.models import TerminalKind
from terminals.selectors import terminal_get
from terminals.services import terminal_config_update, terminal_register

CHANNEL = "simulator"
FREE_AMOUNTS = (300, 450, 600, 800, 1000, 1250, 1500, 2000, 2600)
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
CASH_LOAD = (50_000, 200_000)
MAX_PURSE = 1_000_000
LOW_BALANCE = 2_000  # a holder below this goes to a kiosk


@dataclass
class SimulationOptions:
    server: str
    pos: int = 10
    kiosks: int = 2
    cards: int = 500
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
    log: Callable[[str], None] | None = None  # progress lines (stderr in the command)


@dataclass
class Summary:
    elapsed: float = 0.0
    records_made: int = 0
    records_sent: int = 0
    resent: int = 0  # records sent again on purpose (--duplicate-rate)
    statuses: Counter[str] = field(default_factory=Counter)
    reject_reasons: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    sales: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    loads: int = 0
    cash_loads: int = 0
    lost_cards: int = 0
    sales_on_lost_cards: int = 0  # before the terminal's blacklist listed them
    config_refreshes: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    cards_checked: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def records_per_second(self) -> float:
        return self.statuses["accepted"] / self.elapsed if self.elapsed else 0.0

    def latency_ms(self, quantile: float) -> float:
        if not self.latencies:
            return 0.0
        if len(self.latencies) == 1:
            return self.latencies[0] * 1000
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[min(98, max(0, round(quantile * 100) - 1))] * 1000

    def as_text(self) -> str:
        s = self.statuses
        lines = [
            f"elapsed            {self.elapsed:.1f} s",
            f"records made       {self.records_made} ({self.sales} sales, {self.loads} loads, "
            f"{self.cash_loads} cash loads)",
            f"records sent       {self.records_sent} (of which {self.resent} re-sent on purpose)",
            f"  accepted         {s['accepted']}",
            f"  duplicate        {s['duplicate']}",
            f"  conflict         {s['conflict']}",
            f"  rejected         {s['rejected']} {dict(self.reject_reasons) or ''}".rstrip(),
            f"accepted records/s {self.records_per_second:.1f}",
            f"upload latency     p50 {self.latency_ms(0.5):.1f} ms, "
            f"p99 {self.latency_ms(0.99):.1f} ms ({len(self.latencies)} uploads)",
            f"refusals           {dict(self.refusals)}",
            f"lost cards         {self.lost_cards} (sales before the terminal knew: "
            f"{self.sales_on_lost_cards}, refused and kept by the canteen: "
            f"{self.refusals[Refusal.BLACKLISTED]})",
            f"config refreshes   {self.config_refreshes}",
            f"request errors     {dict(self.errors)}",
            f"cards checked      {self.cards_checked}: "
            + ("every card balance matches" if self.ok else f"{len(self.mismatches)} MISMATCHES"),
        ]
        lines += [f"  {m}" for m in self.mismatches[:50]]
        return "\n".join(lines)


# --- The card office (in-process, through the services) --------------------------------


@dataclass
class SimCard:
    """A holder's physical card: one terminal at a time holds it."""

    card_no: str
    soft: SoftCard
    lock: threading.Lock = field(default_factory=threading.Lock)
    lost_at: float | None = None
    confiscated: bool = False  # a canteen keeps a card its reader flags as lost


@dataclass
class Registered:
    terminal_id: str
    secret: str
    kind: str


class CardOffice:
    """Everything the simulator does as the card office, with the Django ORM."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.by, _created = get_user_model().objects.get_or_create(
            username="simulator", defaults={"is_staff": True}
        )
        self.tag = f"{int(time.time()):x}{rng.randrange(16**3):03x}"

    def ensure_purse_key(self) -> None:
        if not StoredKey.objects.filter(purpose=KeyPurpose.PURSE).exists():
            key_import(purpose=KeyPurpose.PURSE, version=1, key_hex=secrets.token_hex(16),
                       by=self.by, channel=CHANNEL)

    def register(self, kind: str, n: int, params: dict[str, Any] | None = None) -> Registered:
        merchant = f"SIM-C{n % 3 + 1}" if kind == TerminalKind.POS else None
        terminal, secret = terminal_register(
            kind=kind, name=f"Simulated {kind} {self.tag}-{n}", merchant_code=merchant,
            by=self.by, channel=CHANNEL,
        )
        if params:
            terminal_config_update(terminal=terminal, params=params, by=self.by, channel=CHANNEL)
        return Registered(terminal.terminal_id, secret, kind)

    def issue(self, i: int) -> SimCard:
        holder = services.cardholder_create(
            number=f"SIM{self.tag}-{i:05d}", name=f"Simulated holder {i}", kind="student",
            by=self.by, channel=CHANNEL,
        )
        soft = SoftCard.new()  # UIDs from the OS, not the seed: earlier runs' cards are live
        card = services.card_issue(cardholder=holder, uid=soft.uid.hex(), by=self.by,
                                   channel=CHANNEL)
        soft.personalise(card.key_version, card_key(card), card.card_no)
        return SimCard(card.card_no, soft)

    def top_up(self, card_no: str, amount: int) -> None:
        services.card_top_up(card=card_get(card_no), amount=amount, purse=Purse.MAIN,
                             method=TopUpMethod.BANK, by=self.by, reference="simulator",
                             channel=CHANNEL)

    def subsidy(self, cards: list[SimCard], amount: int) -> None:
        holders = [card_get(c.card_no).cardholder.number for c in cards]
        services.subsidy_batch_create(
            name=f"Simulated subsidy {self.tag}-{self.rng.randrange(10**9)}", purse=Purse.SUBSIDY,
            entries=[{"cardholder": h, "amount": amount} for h in holders], by=self.by,
            channel=CHANNEL,
        )

    def report_loss(self, card_no: str) -> None:
        services.card_report_loss(card=card_get(card_no), by=self.by, channel=CHANNEL)

    def reprice(self, terminal_id: str) -> None:
        menu = [{**item, "amount": item["amount"] + 50} for item in MENU]
        terminal_config_update(terminal=terminal_get(terminal_id), params={"menu": menu},
                               by=self.by, channel=CHANNEL)

    def check(self, cards: list[SimCard]) -> list[str]:
        """Every card's balance as the server has it against what is on the card."""
        problems = []
        for c in cards:
            balances = card_balances(card_get(c.card_no))
            for purse in Purse.values:
                b = balances[purse]
                if b["card"] != c.soft.balance(purse):
                    problems.append(f"card {c.card_no} {purse}: server says {b['card']} on the "
                                    f"card, the card holds {c.soft.balance(purse)}")
                if b["account"] != b["card"] + b["pending"]:
                    problems.append(f"card {c.card_no} {purse}: account {b['account']} != card "
                                    f"{b['card']} + pending {b['pending']}")
        problems += [f"ledger: {x.rule} {x.subject} {x.detail}" for x in ledger_check()]
        return problems

    def check_terminals(self, fleet: list[Terminal]) -> list[str]:
        problems = []
        for t in fleet:
            held = terminal_get(t.terminal_id).contiguous_seq
            if held != t.queue.last_seq() or t.queue.count():
                problems.append(f"terminal {t.terminal_id}: server holds 1..{held}, the terminal "
                                f"made {t.queue.last_seq()} and still queues {t.queue.count()}")
        return problems


# --- The fleet (HTTP only) ----------------------------------------------------------------


class Stats:
    """Counters shared by the terminal threads."""

    def __init__(self, summary: Summary) -> None:
        self.summary = summary
        self.lock = threading.Lock()

    def batch(self, batch: list[dict[str, Any]], answer: dict[str, Any], latency: float, *,
              resent: bool = False) -> None:
        with self.lock:
            s = self.summary
            s.records_sent += len(batch)
            s.resent += len(batch) if resent else 0
            s.latencies.append(latency)
            for result in answer["results"]:
                s.statuses[result["status"]] += 1
                if result["status"] == "rejected":
                    s.reject_reasons[result.get("reason", "?")] += 1

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self.summary, name, getattr(self.summary, name) + n)

    def refused(self, reason: str) -> None:
        with self.lock:
            self.summary.refusals[reason] += 1

    def error(self, exc: BaseException) -> None:
        code = getattr(exc, "code", None) or type(exc).__name__
        with self.lock:
            self.summary.errors[str(code)] += 1


class Fleet:
    def __init__(self, options: SimulationOptions, rng: random.Random, cards: list[SimCard],
                 stats: Stats) -> None:
        self.options = options
        self.rng = rng
        self.cards = cards
        self.stats = stats
        self.stop = threading.Event()
        self.to_kiosk: queue.Queue[SimCard] = queue.Queue()
        self._at_kiosk: set[str] = set()  # cards waiting in the kiosk queue
        self.offline: set[str] = set()
        self.pos: list[PosTerminal] = []
        self.kiosks: list[KioskTerminal] = []
        self.failures: list[str] = []
        self._threads: list[threading.Thread] = []

    def build(self, registered: list[Registered], state_dir: Path) -> None:
        for r in registered:
            client = TerminalClient(self.options.server, r.terminal_id, r.secret, timeout=30)
            q = RecordQueue(state_dir / f"{r.terminal_id}.sqlite3")
            terminal: Terminal
            if r.kind == TerminalKind.POS:
                terminal = PosTerminal(client, q, batch_size=self.options.batch)
                self.pos.append(terminal)
            else:
                terminal = KioskTerminal(client, q, batch_size=self.options.batch)
                self.kiosks.append(terminal)
            terminal.on_batch = self._on_batch(terminal)

    def send_to_kiosk(self, card: SimCard) -> None:
        """The holder queues at a kiosk (once, however often they are told to)."""
        with self.stats.lock:
            if card.card_no in self._at_kiosk:
                return
            self._at_kiosk.add(card.card_no)
        self.to_kiosk.put(card)

    @property
    def terminals(self) -> list[Terminal]:
        return [*self.pos, *self.kiosks]

    def _on_batch(self, terminal: Terminal) -> Callable[[list[dict[str, Any]], dict[str, Any],
                                                         float], None]:
        rng = random.Random(self.rng.random())

        def on_batch(batch: list[dict[str, Any]], answer: dict[str, Any], latency: float) -> None:
            self.stats.batch(batch, answer, latency)
            if rng.random() < self.options.duplicate_rate:  # as if the answer had been lost
                started = time.perf_counter()
                again = terminal.client.upload(batch)
                self.stats.batch(batch, again, time.perf_counter() - started, resent=True)

        return on_batch

    @contextmanager
    def holding(self, card: SimCard) -> Iterator[bool]:
        got = card.lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                card.lock.release()

    def start(self) -> None:
        for t in self.pos:
            self._spawn(self._run_pos, t)
        for k in self.kiosks:
            self._spawn(self._run_kiosk, k)

    def _spawn(self, target: Callable[[Any, random.Random], None], terminal: Terminal) -> None:
        rng = random.Random(self.rng.random())

        def run() -> None:
            try:
                target(terminal, rng)
            except BaseException as exc:  # a bug: stop everything and report it
                self.failures.append(f"{terminal.terminal_id}: {exc!r}")
                self.stop.set()

        thread = threading.Thread(target=run, name=terminal.terminal_id, daemon=True)
        self._threads.append(thread)
        thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join()

    def _sync(self, terminal: Terminal) -> bool:
        had_config = terminal.config_version is not None
        try:
            report = terminal.sync()
        except ClientError as exc:
            self.stats.error(exc)
            return False
        if report.config_changed and had_config:
            self.stats.count("config_refreshes")
        return True

    def _offline_chance(self) -> float:
        """The chance, at each sync point, of going offline, so that the share of time
        offline is `offline_rate`: f = pD / (pD + S) for outages of mean length D."""
        o = self.options
        f, mean = min(o.offline_rate, 0.95), sum(o.offline_for) / 2
        return min(1.0, f * o.sync_every / (mean * (1 - f))) if mean > 0 else 0.0

    def _run_pos(self, pos: PosTerminal, rng: random.Random) -> None:
        o = self.options
        chance = self._offline_chance()
        while not self._sync(pos) and not self.stop.is_set():
            time.sleep(0.5)
        next_sync, back_online = time.monotonic() + o.sync_every, 0.0
        while not self.stop.is_set():
            self._sell_once(pos, rng)
            now = time.monotonic()
            if pos.terminal_id in self.offline and now >= back_online:
                self.offline.discard(pos.terminal_id)
            if now >= next_sync and pos.terminal_id not in self.offline:
                if rng.random() < chance:
                    self.offline.add(pos.terminal_id)
                    back_online = now + rng.uniform(*o.offline_for)
                else:
                    self._sync(pos)
                next_sync = now + o.sync_every
            if o.pause:
                self.stop.wait(o.pause)

    def _sell_once(self, pos: PosTerminal, rng: random.Random) -> None:
        card = rng.choice(self.cards)
        if card.confiscated:
            return
        if card.soft.main + card.soft.subsidy < LOW_BALANCE and card.lost_at is None:
            self.send_to_kiosk(card)  # the holder tops up before lunch
            self.stop.wait(0.001)
            return
        with self.holding(card) as got:
            if not got:
                self.stop.wait(0.001)
                return
            amount = self._amount(pos, rng)
            knew = pos.blacklisted(card.card_no)
            outcome = pos.sell(card.soft, amount)
            if outcome.ok:
                self.stats.count("sales")
                self.stats.count("records_made")
                if card.lost_at is not None and not knew:
                    self.stats.count("sales_on_lost_cards")
            else:
                self.stats.refused(str(outcome.refused))
                card.confiscated = outcome.refused is Refusal.BLACKLISTED
            low = card.soft.main + card.soft.subsidy < LOW_BALANCE
        if (low or outcome.refused is Refusal.INSUFFICIENT) and card.lost_at is None:
            self.send_to_kiosk(card)

    @staticmethod
    def _amount(pos: PosTerminal, rng: random.Random) -> int:
        if pos.mode == "fixed":
            return pos.price() or FREE_AMOUNTS[0]
        if pos.mode == "menu" and pos.menu():
            return pos.price(rng.choice(list(pos.menu()))) or FREE_AMOUNTS[0]
        return rng.choice(FREE_AMOUNTS)

    def _run_kiosk(self, kiosk: KioskTerminal, rng: random.Random) -> None:
        next_sync = 0.0
        while not self.stop.is_set():
            if time.monotonic() >= next_sync:
                self._sync(kiosk)
                next_sync = time.monotonic() + self.options.sync_every
            try:
                card = self.to_kiosk.get(timeout=0.2)
            except queue.Empty:
                continue
            with self.stats.lock:
                self._at_kiosk.discard(card.card_no)
            with card.lock:  # the holder waits for the card to be free
                self._serve(kiosk, card, rng)

    def _serve(self, kiosk: KioskTerminal, card: SimCard, rng: random.Random) -> None:
        try:
            claim = kiosk.claim_loads(card.soft)
        except ClientError as exc:
            self.stats.error(exc)
            return
        if claim.refused:
            self.stats.refused(f"kiosk_{claim.refused}")
            return
        self.stats.count("loads", len(claim.records))
        self.stats.count("records_made", len(claim.records))
        if card.soft.main + card.soft.subsidy < LOW_BALANCE:
            room = MAX_PURSE - card.soft.main
            cash = kiosk.cash_load(card.soft, min(room, rng.randrange(*CASH_LOAD, 100)))
            if cash.ok:
                self.stats.count("cash_loads")
                self.stats.count("records_made")
                try:  # at once: a purchase of this money must not reach the server first
                    kiosk.upload_pending()
                except ClientError as exc:
                    self.stats.error(exc)

    def drain(self, rounds: int = 5) -> None:
        """Everyone back online; upload until every queue is empty."""
        self.offline.clear()
        for _ in range(rounds):
            waiting = [t for t in self.terminals if t.queue.count()]
            if not waiting:
                return
            for t in waiting:
                self._sync(t)

    def queued(self) -> int:
        return sum(t.queue.count() for t in self.terminals)


# --- The run ------------------------------------------------------------------------------


def run_simulation(options: SimulationOptions) -> Summary:
    rng = random.Random(options.seed)
    log = options.log or (lambda line: None)
    summary = Summary()
    office = CardOffice(rng)
    office.ensure_purse_key()
    log(f"card office: issuing {options.cards} cards and registering "
        f"{options.pos + options.kiosks} terminals ...")
    cards = [office.issue(i) for i in range(options.cards)]
    for c in cards:
        office.top_up(c.card_no, rng.randrange(*OPENING_TOP_UP, 100))
    registered = [office.register(TerminalKind.POS, n, POS_PARAMS[n % len(POS_PARAMS)])
                  for n in range(options.pos)]
    registered += [office.register(TerminalKind.KIOSK, n) for n in range(options.kiosks)]
    with _state_dir(options.state_dir) as state_dir:
        fleet = Fleet(options, rng, cards, Stats(summary))
        fleet.build(registered, state_dir)
        for c in cards:
            fleet.send_to_kiosk(c)
        log(f"fleet: {options.pos} POS, {options.kiosks} kiosks against {options.server}, "
            f"{options.seconds:.0f} s")
        started = time.monotonic()
        fleet.start()
        CardOfficeDay(options, office, fleet, rng, log).run(started)
        fleet.join()
        log(f"uploading what is still queued ({fleet.queued()} records) ...")
        fleet.drain()
        summary.elapsed = time.monotonic() - started
        summary.mismatches += [f"thread {f}" for f in fleet.failures]
        summary.mismatches += office.check_terminals(fleet.terminals)
        for t in fleet.terminals:
            t.queue.close()
    summary.lost_cards = sum(c.lost_at is not None for c in cards)
    summary.cards_checked = len(cards)
    summary.mismatches += office.check(cards)
    return summary


class CardOfficeDay:
    """The main thread during the run: the card office's events (losses, top-ups, a
    subsidy, a price change) at their times, and a progress line every few seconds."""

    def __init__(self, options: SimulationOptions, office: CardOffice, fleet: Fleet,
                 rng: random.Random, log: Callable[[str], None]) -> None:
        self.options, self.office, self.fleet, self.rng, self.log = options, office, fleet, rng, log
        duration, cards = options.seconds, fleet.cards
        wanted = options.lost_cards if options.lost_cards is not None else len(cards) // 50
        lost_n = min(len(cards), max(1, wanted) if options.lost_cards is None else wanted)
        self.losses = sorted(rng.uniform(0.2, 0.7) * duration for _ in range(lost_n))
        self.to_lose = rng.sample(cards, lost_n)
        self.top_up_every = max(1.0, duration / 20)
        self.events: list[tuple[float, Callable[[], None]]] = [
            (duration / 3, lambda: office.subsidy(cards, 3_000)),
        ]
        if len(fleet.pos) > 1:  # the menu POS gets new prices mid-run
            self.events.append((duration / 2, lambda: office.reprice(fleet.pos[1].terminal_id)))

    def run(self, started: float) -> None:
        next_progress = next_top_up = started
        last = (started, 0)
        while not self.fleet.stop.is_set():
            now = time.monotonic()
            elapsed = now - started
            if elapsed >= self.options.seconds:
                break
            while self.losses and elapsed >= self.losses[0]:
                self.losses.pop(0)
                card = self.to_lose.pop()
                self.office.report_loss(card.card_no)
                card.lost_at = elapsed
            while self.events and elapsed >= self.events[0][0]:
                self.events.pop(0)[1]()
            if now >= next_top_up:
                self._top_ups()
                next_top_up = now + self.top_up_every
            if now >= next_progress:
                last = self._progress(now, elapsed, last)
                next_progress = now + self.options.progress_every
            self.fleet.stop.wait(0.05)

    def _top_ups(self) -> None:
        for card in self.rng.sample(self.fleet.cards, min(5, len(self.fleet.cards))):
            if card.lost_at is not None:
                continue
            try:
                self.office.top_up(card.card_no, self.rng.randrange(1_000, 10_000, 100))
            except DomainError:  # the purse is full: the holder spends first
                continue
            self.fleet.send_to_kiosk(card)

    def _progress(self, now: float, elapsed: float, last: tuple[float, int]) -> tuple[float, int]:
        s, fleet = self.fleet.stats.summary, self.fleet
        rate = (s.records_sent - last[1]) / max(1e-9, now - last[0])
        self.log(
            f"[{elapsed:6.1f}s] sales {s.sales} loads {s.loads + s.cash_loads} | sent "
            f"{s.records_sent} accepted {s.statuses['accepted']} dup {s.statuses['duplicate']}"
            f" | {rate:.0f} records/s | queued {fleet.queued()} | offline "
            f"{len(fleet.offline)}/{len(fleet.pos)} | lost "
            f"{sum(c.lost_at is not None for c in fleet.cards)}"
        )
        return now, s.records_sent


@contextmanager
def _state_dir(path: str | None) -> Iterator[Path]:
    if path:
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        yield directory
        return
    with tempfile.TemporaryDirectory(prefix="onecard-sim-") as tmp:
        yield Path(tmp)
