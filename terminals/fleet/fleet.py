"""The fleet at work: POS readers sell in their configured mode, go offline at random
and upload their backlog later, and sometimes re-upload a batch already sent; kiosks
write pending loads and take cash; door controllers decide cards at their doors
offline from the access list they hold (`doors`); attendance clocks punch a small
roster's days, some of them offline for hours (`attendance`). The cards are
`SoftCard`s, one holder at a time.

`run_fleet(options, plan, office)` plays a run against the server and returns its
`Summary`, with every card's balance and every terminal's records held against what
the server says it has (`office.figures`).
"""

from __future__ import annotations

import datetime as dt
import queue
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from terminals.client.card import MAX_PURSE, SoftCard
from terminals.client.clock import AttendanceClock
from terminals.client.door import DoorTerminal
from terminals.client.http import ClientError, TerminalClient
from terminals.client.protocol import PURSES
from terminals.client.queue import RecordQueue
from terminals.client.terminal import KioskTerminal, PosTerminal, Refusal, Terminal
from terminals.fleet.attendance import Timetable, results_check, timetable
from terminals.fleet.doors import CHECK_FAILED, Check, DoorChecker
from terminals.fleet.plan import (
    AttendancePlan,
    CardSpec,
    FleetOptions,
    FleetPlan,
    Office,
    ServerFigures,
    TerminalSpec,
)
from terminals.fleet.summary import Stats, Summary

FREE_AMOUNTS = (300, 450, 600, 800, 1000, 1250, 1500, 2000, 2600)
CASH_LOAD = (50_000, 200_000)  # fen a holder puts in a kiosk
LOW_BALANCE = 2_000  # a holder below this goes to a kiosk
UNKNOWN_CARD_RATE = 0.02  # a card no one issued, presented at a door
PASSBACK_RATE = 0.1  # the card just presented, at the same door again (passed back)


@dataclass
class SimCard:
    """A holder's physical card: one terminal at a time holds it."""

    card_no: str
    soft: SoftCard
    lock: threading.Lock = field(default_factory=threading.Lock)
    lost_at: float | None = None
    confiscated: bool = False  # a canteen keeps a card its reader flags as lost

    @classmethod
    def of(cls, spec: CardSpec) -> SimCard:
        """The card as the card office personalised it."""
        soft = SoftCard(bytes.fromhex(spec.uid))
        soft.personalise(spec.key_version, bytes.fromhex(spec.card_key), spec.card_no)
        return cls(spec.card_no, soft)


class Fleet:
    """The terminals and the holders of the cards, one thread per terminal."""

    def __init__(self, options: FleetOptions, rng: random.Random, cards: list[SimCard],
                 stats: Stats, time_zone: str = "Asia/Shanghai") -> None:
        self.time_zone = time_zone
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
        self.doors: list[DoorTerminal] = []
        self.clocks: list[AttendanceClock] = []
        self.timetable: Timetable | None = None  # with clocks and a roster to punch
        self.day_span: tuple[int, int] = (0, 0)  # the roster's days, lived by the clocks
        self.plan_attendance: AttendancePlan | None = None
        self.started = 0.0
        self.checkers: dict[str, DoorChecker] = {}
        self._last_at_door: dict[str, tuple[str, int]] = {}
        self.failures: list[str] = []
        self._threads: list[threading.Thread] = []

    def build(self, terminals: list[TerminalSpec], state_dir: Path) -> None:
        for r in terminals:
            client = TerminalClient(self.options.server, r.terminal_id, r.secret, timeout=30)
            q = RecordQueue(state_dir / f"{r.terminal_id}.sqlite3")
            terminal: Terminal
            if r.kind == PosTerminal.kind:
                terminal = PosTerminal(client, q, batch_size=self.options.batch)
                self.pos.append(terminal)
            elif r.kind == DoorTerminal.kind:
                terminal = DoorTerminal(client, q, doors=r.doors, time_zone=self.time_zone,
                                        batch_size=self.options.batch)
                self.doors.append(terminal)
                # The checker asks the server as this controller, on its own connection.
                self.checkers[r.terminal_id] = DoorChecker(
                    TerminalClient(self.options.server, r.terminal_id, r.secret, timeout=30))
            elif r.kind == AttendanceClock.kind:
                terminal = AttendanceClock(client, q, batch_size=self.options.batch)
                self.clocks.append(terminal)
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
        return [*self.pos, *self.kiosks, *self.doors, *self.clocks]

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
        self.started = time.monotonic()
        for t in self.pos:
            self._spawn(self._run_pos, t)
        for k in self.kiosks:
            self._spawn(self._run_kiosk, k)
        for d in self.doors:
            self._spawn(self._run_door, d)
        for c in self.clocks:
            self._spawn(self._run_clock, c)

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
        if isinstance(terminal, DoorTerminal):
            terminal.last_refresh = None
        try:
            report = terminal.sync()
        except ClientError as exc:
            self.stats.error(exc)
            return False
        finally:
            if isinstance(terminal, DoorTerminal) and terminal.last_refresh is not None:
                self.stats.list_refresh(terminal.last_refresh)
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
        self._work_with_outages(pos, rng, lambda: self._sell_once(pos, rng),
                                lambda: self.stop.wait(o.pause) if o.pause else None)

    def _work_with_outages(self, terminal: Terminal, rng: random.Random,
                           work: Callable[[], None], pause: Callable[[], object]) -> None:
        """Work, and sync every `sync_every` seconds, except in outages (chosen at random
        at the sync points, `offline_for` seconds long)."""
        o = self.options
        chance = self._offline_chance()
        while not self._sync(terminal) and not self.stop.is_set():
            time.sleep(0.5)
        next_sync, back_online = time.monotonic() + o.sync_every, 0.0
        while not self.stop.is_set():
            work()
            now = time.monotonic()
            if terminal.terminal_id in self.offline and now >= back_online:
                self.offline.discard(terminal.terminal_id)
            if now >= next_sync and terminal.terminal_id not in self.offline:
                if rng.random() < chance:
                    self.offline.add(terminal.terminal_id)
                    back_online = now + rng.uniform(*o.offline_for)
                else:
                    self._sync(terminal)
                next_sync = now + o.sync_every
            pause()

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

    # --- Door controllers -------------------------------------------------------------------

    def _run_door(self, ctl: DoorTerminal, rng: random.Random) -> None:
        o = self.options
        self._work_with_outages(
            ctl, rng, lambda: self._present_once(ctl, rng),
            lambda: self.stop.wait(rng.expovariate(1 / o.door_pause)) if o.door_pause else None)

    def _door_card(self, rng: random.Random) -> str | None:
        if rng.random() < UNKNOWN_CARD_RATE:
            return f"99{rng.randrange(10**10):010d}"
        card = rng.choice(self.cards)
        return None if card.confiscated else card.card_no

    def _present_once(self, ctl: DoorTerminal, rng: random.Random) -> None:
        """A card at one of the controller's doors, now: decided offline and recorded;
        then checked against the server, and uploaded at once when online (so the
        server holds the passages that later decisions may depend on)."""
        last = self._last_at_door.get(ctl.terminal_id)
        card_no: str | None
        if last is not None and rng.random() < PASSBACK_RATE:
            card_no, door = last
        else:
            card_no, door = self._door_card(rng), rng.randint(1, ctl.doors)
        if card_no is None:
            return
        self._last_at_door[ctl.terminal_id] = (card_no, door)
        presented = ctl.present(card_no, door)
        try:
            check = self.checkers[ctl.terminal_id].check(presented)
        except ClientError as exc:
            self.stats.error(exc)
            check = Check(None, why_not=CHECK_FAILED)
        self.stats.door_decision(ctl.terminal_id, presented, check)
        if ctl.terminal_id not in self.offline:
            try:
                ctl.upload_pending()
            except ClientError as exc:
                self.stats.error(exc)

    # --- Attendance clocks --------------------------------------------------------------------

    def _run_clock(self, clock: AttendanceClock, rng: random.Random) -> None:
        """Live through the roster's days in `clock_share` of the run, punching each card
        of this clock's when its moment comes; sync every `sync_every` seconds, except
        that every other clock (the first among them) goes offline for 2 to 30 hours of
        those days now and then and uploads its backlog when it is back."""
        index = self.clocks.index(clock)
        punches = self.timetable.for_clock(index) if self.timetable else []
        flaky = index % 2 == 0
        first, last = self.day_span
        real = max(0.1, self.options.seconds * self.options.clock_share)
        at = 0
        offline_until: float | None = None  # in the days' time
        next_sync = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            day_time = first + min(1.0, (now - self.started) / real) * (last - first)
            while at < len(punches) and punches[at].ts <= day_time:
                clock.punch(punches[at].card_no, punches[at].ts)
                self.stats.count("attendance_punches")
                self.stats.count("records_made")
                at += 1
            if offline_until is not None and day_time >= offline_until:
                offline_until = None
                self.offline.discard(clock.terminal_id)
            if now >= next_sync and offline_until is None:
                if flaky and day_time < last and rng.random() < 0.3:
                    hours = rng.uniform(2, 30)
                    offline_until = day_time + hours * 3600
                    self.offline.add(clock.terminal_id)
                    self.stats.count("attendance_outages")
                    self.stats.count("attendance_offline_hours", round(hours))
                else:
                    self._sync(clock)
                next_sync = now + self.options.sync_every
            self.stop.wait(0.02)

    def attendance_check(self, office: Office) -> list[str]:
        """After the run: the server's daily results against the fleet's expectation."""
        if self.timetable is None or self.plan_attendance is None:
            return []
        plan = self.plan_attendance
        results = office.attendance_results([m.number for m in plan.staff], plan.first,
                                            plan.last)
        return results_check(self.timetable.expected, results)

    def doors_current(self) -> list[str]:
        """After the run: every controller syncs once more and must then hold the list
        version the server has for it."""
        behind = []
        for ctl in self.doors:
            if not self._sync(ctl):
                behind.append(f"{ctl.terminal_id}: no sync at the end")
                continue
            heartbeat = ctl.send_heartbeat()
            server = heartbeat.get("access_list_version")
            if server != ctl.access_list_version:
                behind.append(f"{ctl.terminal_id}: holds v{ctl.access_list_version}, "
                              f"the server has v{server}")
        return behind

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


class OfficeDay:
    """The main thread during the run: the card office's events (losses, top-ups, a
    subsidy, a price change) at their times, and a progress line every few seconds."""

    def __init__(self, options: FleetOptions, office: Office, fleet: Fleet,
                 rng: random.Random, log: Callable[[str], None]) -> None:
        self.options, self.office, self.fleet, self.rng, self.log = options, office, fleet, rng, log
        duration, cards = options.seconds, fleet.cards
        wanted = options.lost_cards if options.lost_cards is not None else len(cards) // 50
        lost_n = min(len(cards), max(1, wanted) if options.lost_cards is None else wanted)
        self.losses = sorted(rng.uniform(0.2, 0.7) * duration for _ in range(lost_n))
        self.to_lose = rng.sample(cards, lost_n)
        self.top_up_every = max(1.0, duration / 20)
        self.events: list[tuple[float, Callable[[], None]]] = [
            (duration / 3, lambda: office.subsidy([c.card_no for c in cards], 3_000)),
        ]
        if len(fleet.pos) > 1:  # the menu POS gets new prices mid-run
            self.events.append((duration / 2, lambda: office.reprice(fleet.pos[1].terminal_id)))
        if fleet.doors:  # the security office changes who may enter, now and then
            n = options.access_changes
            self.events += [((k + 1) * duration / (n + 1), self._access_change)
                            for k in range(n)]
        if fleet.timetable is not None and fleet.timetable.corrections:
            # HR adds and approves the forgotten punches halfway, while clocks upload.
            self.events.append((duration / 2, self._corrections))
        self.tick_every = 0.5 if fleet.timetable is not None else None
        self.events.sort(key=lambda event: event[0])

    def _corrections(self) -> None:
        assert self.fleet.timetable is not None
        for number, ts in self.fleet.timetable.corrections:
            self.office.attendance_correction(number, ts)
        self.log(f"HR: {len(self.fleet.timetable.corrections)} forgotten punches corrected")

    def _access_change(self) -> None:
        done = self.office.access_change()
        if done:
            self.fleet.stats.count("access_changes")
            self.log(f"security office: {done}")

    def run(self, started: float) -> None:
        next_progress = next_top_up = next_tick = started
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
            if self.tick_every is not None and now >= next_tick:
                self.fleet.stats.count("attendance_days_computed", self.office.attendance_tick())
                next_tick = now + self.tick_every
            if now >= next_progress:
                last = self._progress(now, elapsed, last)
                next_progress = now + self.options.progress_every
            self.fleet.stop.wait(0.05)

    def _top_ups(self) -> None:
        for card in self.rng.sample(self.fleet.cards, min(5, len(self.fleet.cards))):
            if card.lost_at is not None:
                continue
            if self.office.top_up(card.card_no, self.rng.randrange(1_000, 10_000, 100)):
                self.fleet.send_to_kiosk(card)  # else the purse is full: the holder spends first

    def _progress(self, now: float, elapsed: float, last: tuple[float, int]) -> tuple[float, int]:
        s, fleet = self.fleet.stats.summary, self.fleet
        rate = (s.records_sent - last[1]) / max(1e-9, now - last[0])
        doors = (f" | doors {s.door_decisions} ({s.door_granted} granted, {s.door_compared} "
                 f"checked, {len(s.door_disagreements)} disagree)" if fleet.doors else "")
        self.log(
            f"[{elapsed:6.1f}s] sales {s.sales} loads {s.loads + s.cash_loads} | sent "
            f"{s.records_sent} accepted {s.statuses['accepted']} dup {s.statuses['duplicate']}"
            f" | {rate:.0f} records/s | queued {fleet.queued()} | offline "
            f"{len(fleet.offline)}/{len(fleet.pos) + len(fleet.doors) + len(fleet.clocks)}"
            f" | lost "
            f"{sum(c.lost_at is not None for c in fleet.cards)}{doors}"
        )
        return now, s.records_sent


def run_fleet(options: FleetOptions, plan: FleetPlan, office: Office,
              rng: random.Random | None = None) -> Summary:
    """Every holder first collects at a kiosk what the card office put on the account,
    then the terminals trade for `options.seconds` while the office has its day; then
    everyone comes back online, uploads what is queued, and the cards and the terminals
    are held against the server's figures."""
    rng = rng or random.Random(options.seed)
    log = options.log or (lambda line: None)
    summary = Summary()
    cards = [SimCard.of(spec) for spec in plan.cards]
    with _state_dir(options.state_dir) as state_dir:
        fleet = Fleet(options, rng, cards, Stats(summary), plan.time_zone)
        fleet.build(plan.terminals, state_dir)
        _attendance_prepare(fleet, plan, office, summary, rng)
        for c in cards:
            fleet.send_to_kiosk(c)
        log(f"fleet: {len(fleet.pos)} POS, {len(fleet.kiosks)} kiosks, {len(fleet.doors)} door "
            f"controllers, {len(fleet.clocks)} attendance clocks against {options.server}, "
            f"{options.seconds:.0f} s")
        started = time.monotonic()
        fleet.start()
        OfficeDay(options, office, fleet, rng, log).run(started)
        fleet.join()
        log(f"uploading what is still queued ({fleet.queued()} records) ...")
        fleet.drain()
        summary.controllers_behind = fleet.doors_current()
        summary.attendance_mismatches = fleet.attendance_check(office)
        summary.elapsed = time.monotonic() - started
        figures = office.figures([c.card_no for c in cards],
                                 [t.terminal_id for t in fleet.terminals])
        summary.mismatches += [f"thread {f}" for f in fleet.failures]
        summary.mismatches += terminals_check(fleet.terminals, figures)
        for t in fleet.terminals:
            t.queue.close()
    summary.lost_cards = sum(c.lost_at is not None for c in cards)
    summary.door_controllers = len(fleet.doors)
    summary.cards_checked = len(cards)
    summary.mismatches += cards_check(cards, figures)
    summary.mismatches += figures.problems
    return summary


def _attendance_prepare(fleet: Fleet, plan: FleetPlan, office: Office, summary: Summary,
                        rng: random.Random) -> None:
    """The clocks' timetable, and the leave HR records before the days are punched."""
    fleet.plan_attendance = plan.attendance if fleet.clocks else None
    if fleet.plan_attendance is None:
        return
    a = fleet.plan_attendance
    zone = ZoneInfo(plan.time_zone)
    fleet.timetable = timetable(a, plan.time_zone, len(fleet.clocks), rng)
    fleet.day_span = (
        int(dt.datetime.combine(a.first, dt.time(0), zone).timestamp()),
        int(dt.datetime.combine(a.last + dt.timedelta(days=1), dt.time(12), zone).timestamp()))
    for number, start, end in fleet.timetable.leaves:
        office.attendance_leave(number, start, end)
    summary.attendance_clocks = len(fleet.clocks)
    summary.attendance_staff = len(a.staff)
    summary.attendance_days = len(fleet.timetable.expected)
    summary.attendance_behaviours = Counter(fleet.timetable.behaviours)


def cards_check(cards: list[SimCard], figures: ServerFigures) -> list[str]:
    """Every card's balance as the server has it against what is on the card."""
    problems = []
    for c in cards:
        balances = figures.balances[c.card_no]
        for purse in PURSES:
            b = balances[purse]
            if b["card"] != c.soft.balance(purse):
                problems.append(f"card {c.card_no} {purse}: server says {b['card']} on the "
                                f"card, the card holds {c.soft.balance(purse)}")
            if b["account"] != b["card"] + b["pending"]:
                problems.append(f"card {c.card_no} {purse}: account {b['account']} != card "
                                f"{b['card']} + pending {b['pending']}")
    return problems


def terminals_check(terminals: list[Terminal], figures: ServerFigures) -> list[str]:
    """Every record a terminal made is held by the server, and none is left queued."""
    problems = []
    for t in terminals:
        held = figures.contiguous_seq.get(t.terminal_id, 0)
        if held != t.queue.last_seq() or t.queue.count():
            problems.append(f"terminal {t.terminal_id}: server holds 1..{held}, the terminal "
                            f"made {t.queue.last_seq()} and still queues {t.queue.count()}")
    return problems


@contextmanager
def _state_dir(path: str | None) -> Iterator[Path]:
    if path:
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        yield directory
        return
    with tempfile.TemporaryDirectory(prefix="onecard-sim-") as tmp:
        yield Path(tmp)
