"""Access lists and the online door check (issue 11 §5), over HTTP against gunicorn on the
bench database, as door controllers use them.

The section starts from empty tables (it flushes the bench database: the sections
before it have their figures, and it needs an ingest set-up of its own). Set-up, timed:
--access-grants cardholders with active cards in one org unit, written in bulk (rows
only: a cardholder and a card, as `_blacklist_fill` in bench/ingest.py does), then
made members of an access group by that org unit through the service
(`group_org_units_change`, the security office's bulk membership): the list refresh
publishes a grant per card on the two controllers the group's doors belong to. The
figures and their goals:

(a) `full_list_*`: `GET access-list?since=0` of the controller with the grants, until
    the last byte of the answer has arrived; goal <= 1 s. The client's JSON parse of it
    is `full_list_client_parse_p50_s`, apart.
(b) `delta_*`: after one membership change (a holder added to, or taken out of, a
    second group with a door of the same controller, through the service), the
    controller's `GET access-list?since=<version before>`; p99 over --access-changes
    changes, goal <= 20 ms. Each delta is checked to carry that card, and only it.
(c) `check_*`: `POST access-check` one after another for random cards and doors while
    the terminal ingest benchmark's load generator runs (bench/ingest.py: its set-up
    with --access-ingest-cards cards, its bulk POS terminals uploading batches of
    --ingest-batch and its single-record POS, for --access-ingest-seconds); p99, goal
    <= 20 ms. Measured on the idle server first; then, during one run of the load, by
    two controllers at once: one asking the same gunicorn workers as the ingest
    (`check_shared_*`: a check queues behind batches of 500 purchases), one asking a
    worker pool of its own on the same database (`check_own_pool_*`,
    --access-check-workers sync workers: how a deployment would route
    /api/v1/terminal/access-check).
(d) `loss_*`: a card reported lost (the card office's service), then at once each
    controller's delta: the card is in `revoke` of both controllers that held its grant,
    in the very next delta, and the third controller's version did not move. The time
    from the report to each answer is the figure: no batch job stands between.

Beside them, to tell the access code from the request around it: the same calls
in-process (`*_in_process_*`: the selectors `access_list` and `access_check`, no HTTP),
and the floor of any signed terminal request on this server (`floor_*`: `GET config`,
which also authenticates, stores the nonce and answers JSON).

`--access-quick` makes everything small (2,000 grants, 20 changes, 120 ingest cards, 4
seconds of load): under a minute on the 2-core machine when nothing else runs.

Django is imported inside the functions: `bench/__main__.py` sets it up first.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shlex
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import requests

from bench import ingest
from bench.figures import ms, quantile
from terminals.client.protocol import encode_json

ACCESS_LIST_PATH = "/api/v1/terminal/access-list"
ACCESS_CHECK_PATH = "/api/v1/terminal/access-check"
GOAL_FULL_S = 1.0
GOAL_DELTA_MS = 20.0
GOAL_CHECK_MS = 20.0


@dataclass(frozen=True)
class Sizes:
    grants: int
    changes: int
    ingest_cards: int
    ingest_seconds: float
    full_requests: int = 5
    checks_idle: int = 300
    losses: int = 20


QUICK = Sizes(grants=2_000, changes=20, ingest_cards=120, ingest_seconds=4.0,
              full_requests=3, checks_idle=50, losses=3)
FILL_CHUNK = 5_000
LAB_MEMBERS = 100  # holders moved in and out of the second group


@dataclass(frozen=True)
class Controller:
    term: ingest.Term
    doors: list[str]


@dataclass
class Setup:
    big: Controller  # the controller with every grant
    side: Controller  # a second controller with the same grants (one door)
    other: Controller  # a controller the group does not reach
    lab: Any  # the group moved in and out of
    by: Any
    unit_holders: list[str]  # holder numbers, bulk-filled
    card_nos: list[str]
    loss_cards: list[str]  # issued through the services, members by the org unit
    grants: int
    fill_s: float
    grants_s: float


def _register(by: Any, name: str, doors: int) -> Controller:
    from terminals.services import terminal_register

    terminal, secret = terminal_register(kind="door", name=name, doors=doors, by=by,
                                         channel="bench")
    return Controller(ingest.Term(terminal.pk, terminal.terminal_id, secret),
                      [f"{terminal.terminal_id}-{n}" for n in range(1, doors + 1)])


def _setup(grants: int, losses: int) -> Setup:
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.db import transaction

    from access import services as access
    from access.services import WindowSpec
    from accounts import services
    from accounts.models import Card, Cardholder, CardStatus

    by, _created = get_user_model().objects.get_or_create(username="bench-access")
    unit = services.org_unit_ensure(code="BENCH-ACC", name="Bench access", by=by,
                                    channel="bench")
    big = _register(by, "Bench main entrance", 4)
    side = _register(by, "Bench side entrance", 2)
    other = _register(by, "Bench other building", 2)

    t0 = time.perf_counter()
    with transaction.atomic():
        for start in range(0, grants, FILL_CHUNK):
            count = min(FILL_CHUNK, grants - start)
            holders = Cardholder.objects.bulk_create(
                [Cardholder(number=f"AC{n:07d}", name=f"Access holder {n}", kind="student",
                            org_unit=unit) for n in range(start, start + count)])
            Card.objects.bulk_create(
                [Card(card_no=f"88{n:08d}", uid=f"ac{n:08x}", cardholder=h,
                      status=CardStatus.ACTIVE, key_version=1)
                 for n, h in enumerate(holders, start=start)])
    # A few holders the ordinary way (their cards are reported lost later), and a few
    # outside the unit for the third controller.
    loss_cards = []
    for n in range(losses):
        holder = services.cardholder_create(number=f"ACL{n:04d}", name=f"Loses a card {n}",
                                            kind="student", department="BENCH-ACC", by=by,
                                            channel="bench")
        loss_cards.append(services.card_issue(cardholder=holder, uid=f"ad{n:08x}", by=by,
                                              channel="bench").card_no)
    outsiders = []
    for n in range(5):
        holder = services.cardholder_create(number=f"ACO{n:04d}", name=f"Elsewhere {n}",
                                            kind="staff", by=by, channel="bench")
        services.card_issue(cardholder=holder, uid=f"ae{n:08x}", by=by, channel="bench")
        outsiders.append(holder.number)
    fill_s = time.perf_counter() - t0

    office = [WindowSpec([1, 2, 3, 4, 5], dt.time(7, 30), dt.time(19, 0))]
    evening = [WindowSpec([1, 2, 3, 4, 5, 6, 7], dt.time(18, 0), dt.time(23, 0))]
    access.schedule_create(code="bench-office", name="Office hours", windows=office, by=by,
                           channel="bench")
    access.schedule_create(code="bench-evening", name="Evenings", windows=evening, by=by,
                           channel="bench")
    everyone = access.group_create(code="bench-all", name="Everyone", schedule="bench-office",
                                   doors=[*big.doors[:2], side.doors[0]], by=by,
                                   channel="bench")
    lab = access.group_create(code="bench-lab", name="Lab", schedule="bench-evening",
                              doors=[big.doors[2]], by=by, channel="bench")
    elsewhere = access.group_create(code="bench-other", name="Other building",
                                    schedule="bench-office", doors=other.doors, by=by,
                                    channel="bench")
    access.group_members_change(group=elsewhere, add=outsiders, by=by, channel="bench")
    t0 = time.perf_counter()
    access.group_org_units_change(group=everyone, add=["BENCH-ACC"], by=by, channel="bench")
    grants_s = time.perf_counter() - t0
    return Setup(big=big, side=side, other=other, lab=lab, by=by,
                 unit_holders=[f"AC{n:07d}" for n in range(grants)],
                 card_nos=[f"88{n:08d}" for n in range(grants)], loss_cards=loss_cards,
                 grants=grants + losses, fill_s=fill_s, grants_s=grants_s)


# --- requests ------------------------------------------------------------------------------


def _list(session: requests.Session, base: str, term: ingest.Term, since: int,
          parsed: list[float] | None = None) -> tuple[dict[str, Any], float, int]:
    """The answer, the seconds until its last byte arrived (requests reads the whole
    body before it returns), and its size; the client's JSON parse is timed apart."""
    path = f"{ACCESS_LIST_PATH}?since={since}"
    t0 = time.perf_counter()
    resp = ingest._get(session, base, term, path)
    elapsed = time.perf_counter() - t0
    if resp.status_code != 200:
        raise RuntimeError(f"access-list: {resp.status_code} {resp.text[:200]}")
    t1 = time.perf_counter()
    body = resp.json()
    if parsed is not None:
        parsed.append(time.perf_counter() - t1)
    return body, elapsed, len(resp.content)


def _check(session: requests.Session, base: str, term: ingest.Term, card_no: str, door: int,
           ) -> tuple[dict[str, Any], float]:
    body = encode_json({"card_no": card_no, "door": door, "ts": int(time.time())})
    t0 = time.perf_counter()
    resp = session.post(base + ACCESS_CHECK_PATH, data=body,
                        headers=ingest._headers(term, "POST", ACCESS_CHECK_PATH, body),
                        timeout=ingest.HTTP_TIMEOUT_S)
    elapsed = time.perf_counter() - t0
    if resp.status_code != 200:
        raise RuntimeError(f"access-check: {resp.status_code} {resp.text[:200]}")
    return resp.json(), elapsed


def _version(term: ingest.Term) -> int:
    from access.models import ControllerListVersion

    return int(ControllerListVersion.objects.get(controller_id=term.pk).version)


# --- (a) the full list, (b) deltas, (d) report-loss ----------------------------------------------


def _full_list(base: str, s: Setup, n: int) -> dict[str, Any]:
    session = requests.Session()
    times: list[float] = []
    parsed: list[float] = []
    size, count = 0, 0
    for _ in range(n):
        body, elapsed, size = _list(session, base, s.big.term, 0, parsed)
        times.append(elapsed)
        count = len(body["grants"])
        if not body["full"] or count != s.grants:
            raise RuntimeError(f"full list: {count} grants, {s.grants} expected")
    p50 = quantile(times, 0.5)
    return {"full_list_grants": count, "full_list_bytes": size,
            "full_list_requests": n, "full_list_p50_s": round(p50, 3),
            "full_list_max_s": round(max(times), 3), "full_list_goal_s": GOAL_FULL_S,
            "full_list_client_parse_p50_s": round(quantile(parsed, 0.5), 3),
            "full_list_meets_goal": max(times) <= GOAL_FULL_S}


def _deltas(base: str, s: Setup, changes: int) -> dict[str, Any]:
    from access import services as access

    session = requests.Session()
    movers = s.unit_holders[:LAB_MEMBERS]
    cards = dict(zip(s.unit_holders, s.card_nos, strict=True))
    get, write, wrong = [], [], []
    for i in range(changes):
        number = movers[(i // 2) % len(movers)]
        joining = i % 2 == 0
        before = _version(s.big.term)
        t0 = time.perf_counter()
        access.group_members_change(group=s.lab, add=[number] if joining else [],
                                    remove=[] if joining else [number], by=s.by,
                                    channel="bench")
        write.append(time.perf_counter() - t0)
        body, elapsed, _size = _list(session, base, s.big.term, before)
        get.append(elapsed)
        changed = [g["card_no"] for g in body["grants"]] + body["revoke"]
        if body["full"] or body["version"] != before + 1 or changed != [cards[number]]:
            wrong.append(f"change {i}: v{before} -> {body['version']}, {changed}")
    p99 = quantile(get, 0.99)
    return {"delta_changes": changes, "delta_p50_ms": ms(quantile(get, 0.5)),
            "delta_p99_ms": ms(p99), "delta_max_ms": ms(max(get)),
            "delta_goal_ms": GOAL_DELTA_MS, "delta_meets_goal": p99 * 1000 <= GOAL_DELTA_MS,
            "delta_wrong": len(wrong), "membership_change_p50_ms": ms(quantile(write, 0.5)),
            "membership_change_p99_ms": ms(quantile(write, 0.99)),
            **({"delta_first_wrong": wrong[0]} if wrong else {})}


def _floor(base: str, s: Setup, n: int) -> dict[str, Any]:
    session = requests.Session()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        ingest._get(session, base, s.big.term, ingest.CONFIG_PATH).raise_for_status()
        times.append(time.perf_counter() - t0)
    return {"floor_signed_get_p50_ms": ms(quantile(times, 0.5)),
            "floor_signed_get_p99_ms": ms(quantile(times, 0.99))}


def _in_process(s: Setup, n: int) -> dict[str, Any]:
    """The selectors alone: a one-change delta and a check, as the views call them."""
    from access.selectors import access_check, access_list
    from terminals.models import Terminal

    controller = Terminal.objects.get(pk=s.big.term.pk)
    version = _version(s.big.term)
    rng = random.Random(4)
    delta, check = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        access_list(controller, version - 1)
        delta.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        access_check(controller, rng.choice(s.card_nos), rng.randint(1, 4), int(time.time()))
        check.append(time.perf_counter() - t0)
    return {"delta_in_process_p50_ms": ms(quantile(delta, 0.5)),
            "delta_in_process_p99_ms": ms(quantile(delta, 0.99)),
            "check_in_process_p50_ms": ms(quantile(check, 0.5)),
            "check_in_process_p99_ms": ms(quantile(check, 0.99))}


def _losses(base: str, s: Setup, n: int) -> dict[str, Any]:
    from accounts import services
    from accounts.selectors import card_get

    session = requests.Session()
    waits, missed = [], []
    for card_no in s.loss_cards[:n]:
        held = {c.term.terminal_id: _version(c.term) for c in (s.big, s.side, s.other)}
        services.card_report_loss(card=card_get(card_no), by=s.by, channel="bench")
        reported = time.perf_counter()
        for c in (s.big, s.side):
            body, _elapsed, _size = _list(session, base, c.term, held[c.term.terminal_id])
            waits.append(time.perf_counter() - reported)
            if card_no not in body["revoke"] or body["version"] != held[c.term.terminal_id] + 1:
                missed.append(f"{c.term.terminal_id}: {card_no} not revoked in v{body['version']}")
        body, _elapsed, _size = _list(session, base, s.other.term,
                                      held[s.other.term.terminal_id])
        if body["version"] != held[s.other.term.terminal_id] or body["revoke"]:
            missed.append(f"{s.other.term.terminal_id} moved to v{body['version']}")
    return {"loss_reports": n, "loss_revoked_in_next_delta": n * 2 - len(missed),
            "loss_of_deltas": n * 2, "loss_unaffected_controller_moved": sum(
                "moved" in m for m in missed),
            "loss_to_delta_p50_ms": ms(quantile(waits, 0.5)),
            "loss_to_delta_max_ms": ms(max(waits)),
            "loss_in_next_poll": not missed,
            **({"loss_first_miss": missed[0]} if missed else {})}


# --- (c) access-check, idle and under the ingest load ------------------------------------------


class Checker:
    """One controller asking access-check one request after another."""

    def __init__(self, base: str, s: Setup, seed: int) -> None:
        self.base, self.s = base, s
        self.rng = random.Random(seed)
        self.session = requests.Session()
        self.latencies: list[float] = []
        self.answers: dict[str, int] = {}

    def once(self) -> None:
        card_no = (self.rng.choice(self.s.card_nos) if self.rng.random() < 0.95
                   else f"99{self.rng.randrange(10**8):08d}")
        answer, elapsed = _check(self.session, self.base, self.s.big.term, card_no,
                                 self.rng.randint(1, 4))
        self.latencies.append(elapsed)
        key = "granted" if answer["granted"] else str(answer["reason"])
        self.answers[key] = self.answers.get(key, 0) + 1

    def figures(self, prefix: str) -> dict[str, Any]:
        p99 = quantile(self.latencies, 0.99)
        return {f"{prefix}_requests": len(self.latencies),
                f"{prefix}_p50_ms": ms(quantile(self.latencies, 0.5)),
                f"{prefix}_p99_ms": ms(p99), f"{prefix}_goal_ms": GOAL_CHECK_MS,
                f"{prefix}_meets_goal": p99 * 1000 <= GOAL_CHECK_MS,
                f"{prefix}_answers": dict(sorted(self.answers.items()))}


@contextmanager
def _ingest_load(ctx: Any, setup: dict[str, Any], base: str, pid: int,
                 seconds: float) -> Iterator[threading.Thread]:
    """bench/ingest.py's load generator (its prepared batches, its bulk terminals and its
    single-record POS) running in a thread for `seconds`; yields its figures once done."""
    args = ctx.args
    chains = ingest.Chains(setup["cards"])
    per_terminal = max(2, int(seconds * ingest.PREPARE_RATE
                              / (len(setup["bulk"]) * args.ingest_batch)) + 1)
    prepared = ingest._prepare(chains, setup["bulk"], batches=per_terminal,
                               size=args.ingest_batch, shared=True)
    online = setup["online"]
    singles = int(seconds * 1000 / ingest.SINGLE_MIN_MS)
    online_batches = iter([chains.batch(list(range(ingest.ONLINE_CARDS)), online, seq, 1)
                           for seq in range(1, singles + 1)])
    out: dict[str, Any] = {}

    def load() -> None:
        out.update(ingest._bulk_run(base, pid, setup["bulk"], prepared, online, online_batches,
                                    seconds=seconds, database_url=ctx.database_url))

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        thread.join()
    setup["load_figures"] = out.get("figures", {})
    setup["load_errors"] = out.get("errors") or []


def _ask_until_stopped(checker: Checker, start: Any, stop: Any, out: Any) -> None:
    """A door controller of its own: a process, as the device is, so the load generator's
    threads (and their GIL) in this process do not add to the latency it measures."""
    start.wait()
    while not stop.is_set():
        checker.once()
    out.send((checker.latencies, checker.answers))
    out.close()


def _checks_under_load(ctx: Any, s: Setup, ingest_setup: dict[str, Any], base: str, pid: int,
                       own: str, seconds: float) -> dict[str, Any]:
    """Two controllers ask access-check back to back while the ingest load runs: one on
    the ingest's workers, one on the door checks' own pool."""
    checkers = {"check_shared": Checker(base, s, seed=2), "check_own_pool": Checker(own, s, 3)}
    # Forked before the load's threads start: a fork copies no lock a thread holds.
    fork = multiprocessing.get_context("fork")
    start, stop = fork.Event(), fork.Event()
    askers = []
    for checker in checkers.values():
        receive, send = fork.Pipe(duplex=False)
        process = fork.Process(target=_ask_until_stopped, args=(checker, start, stop, send),
                               daemon=True)
        process.start()
        send.close()
        askers.append((checker, process, receive))
    with _ingest_load(ctx, ingest_setup, base, pid, seconds) as load:
        time.sleep(0.3)  # the bulk terminals are under way
        start.set()
        load.join()
        stop.set()
    for checker, process, receive in askers:
        checker.latencies, checker.answers = receive.recv()
        process.join()
    figures: dict[str, Any] = {}
    for prefix, checker in checkers.items():
        figures.update(checker.figures(prefix))
    measured = ingest_setup["load_figures"]
    for key in ("records_per_s", "batch_p50_ms", "single_p99_ms", "cpu_machine_busy_pct"):
        figures[f"load_ingest_{key}"] = measured.get(key)
    figures["load_ingest_errors"] = len(ingest_setup["load_errors"])
    return figures


def _flush() -> None:
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def run(ctx: Any) -> dict[str, Any]:
    args = ctx.args
    quick = args.access_quick
    size = QUICK if quick else Sizes(
        grants=args.access_grants, changes=args.access_changes,
        ingest_cards=args.access_ingest_cards, ingest_seconds=args.access_ingest_seconds)

    t0 = time.perf_counter()
    _flush()
    # The ingest's set-up first: it brings the purse key the cards are issued under.
    ingest_setup = ingest._setup(SimpleNamespace(ingest_cards=size.ingest_cards,
                                                 ingest_terminals=args.ingest_terminals))
    ingest_setup_s = time.perf_counter() - t0
    s = _setup(size.grants, size.losses)
    print(f"   {s.grants:,} grants on {s.big.term.terminal_id} and {s.side.term.terminal_id}: "
          f"rows {s.fill_s:.1f} s, membership by org unit (list refresh) {s.grants_s:.1f} s",
          flush=True)
    _analyze()
    t1 = time.perf_counter()
    figures: dict[str, Any] = {
        "grants": s.grants, "setup_rows_s": round(s.fill_s, 2),
        "setup_grants_by_org_unit_s": round(s.grants_s, 2),
        "setup_ingest_s": round(ingest_setup_s, 2), "quick": quick,
        "workers": args.ingest_workers, "check_workers": args.access_check_workers,
        "bulk_pool_nice": args.access_bulk_nice,
        "load_avg_1min_before": round(os.getloadavg()[0], 2),
    }
    terms = [s.big.term, s.side.term, s.other.term, *ingest_setup["bulk"],
             ingest_setup["online"]]
    with ingest._server(ctx.database_url, workers=args.ingest_workers,
                        conn_max_age=args.ingest_conn_max_age,
                        extra=shlex.split(args.ingest_gunicorn_args),
                        nice=args.access_bulk_nice) as (base, pid):
        ingest._warm_up(base, terms, args.ingest_workers)
        figures.update(_full_list(base, s, size.full_requests))
        print(f"   full list: {figures['full_list_max_s']:.3f} s at most "
              f"(goal {GOAL_FULL_S} s)", flush=True)
        figures.update(_deltas(base, s, size.changes))
        print(f"   delta after one change: p99 {figures['delta_p99_ms']} ms "
              f"(goal {GOAL_DELTA_MS} ms)", flush=True)
        figures.update(_losses(base, s, size.losses))
        figures.update(_floor(base, s, size.checks_idle))
        figures.update(_in_process(s, size.checks_idle))
        idle = Checker(base, s, seed=1)
        for _ in range(size.checks_idle):
            idle.once()
        figures.update(idle.figures("check_idle"))
        # A pool of its own for the door checks, on the same database, beside the ingest's.
        with ingest._server(ctx.database_url, workers=args.access_check_workers,
                            conn_max_age=args.ingest_conn_max_age, extra=[]) as (own, _pid):
            ingest._warm_up(own, [s.big.term], args.access_check_workers)
            figures.update(_checks_under_load(ctx, s, ingest_setup, base, pid, own,
                                              size.ingest_seconds))
        print(f"   access-check under the ingest load: p99 {figures['check_shared_p99_ms']} ms "
              f"on its workers, {figures['check_own_pool_p99_ms']} ms on a pool of its own",
              flush=True)
    figures["load_avg_1min_after"] = round(os.getloadavg()[0], 2)
    figures["section_setup_s"] = round(t1 - t0, 2)
    _print_goals(figures)
    return figures


def _print_goals(f: dict[str, Any]) -> None:
    def mark(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    print(f"-- access: figures beside their goals ({f['grants']:,} grants)")
    print(f"   (a) full list             max {f['full_list_max_s']:.3f} s, "
          f"p50 {f['full_list_p50_s']:.3f} s ({f['full_list_bytes']:,} bytes; the client's "
          f"parse {f['full_list_client_parse_p50_s']:.3f} s more)   goal <= "
          f"{GOAL_FULL_S} s: {mark(f['full_list_meets_goal'])}")
    print(f"   (b) delta after a change  p99 {f['delta_p99_ms']} ms over {f['delta_changes']} "
          f"changes   goal <= {GOAL_DELTA_MS} ms: {mark(f['delta_meets_goal'])}")
    print(f"       in-process p99: delta {f['delta_in_process_p99_ms']} ms, check "
          f"{f['check_in_process_p99_ms']} ms; any signed request (GET config) p50 "
          f"{f['floor_signed_get_p50_ms']} ms, p99 {f['floor_signed_get_p99_ms']} ms; "
          f"load average {f['load_avg_1min_before']} before, {f['load_avg_1min_after']} after")
    # The deployment routes access-check to a pool of its own (README, Running in
    # production): that line is the figure; the shared one shows why it is routed.
    for prefix, label, goal in (
            ("check_idle", "idle server", True),
            ("check_own_pool", "under ingest, own pool", True),
            ("check_shared", "under ingest, same workers", False)):
        verdict = (f"goal <= {GOAL_CHECK_MS} ms: {mark(f[f'{prefix}_meets_goal'])}" if goal
                   else "(not routed: queues behind 500-record batches; for comparison)")
        print(f"   (c) access-check, {label:<27} p99 {f[f'{prefix}_p99_ms']} ms "
              f"({f[f'{prefix}_requests']} checks)   {verdict}")
    print(f"   (d) report-loss -> next delta: revoked in {f['loss_revoked_in_next_delta']} of "
          f"{f['loss_of_deltas']} next deltas (unaffected controller moved: "
          f"{f['loss_unaffected_controller_moved']}), {f['loss_to_delta_max_ms']} ms at most "
          f"from the report to the answer: "
          f"{'the next poll' if f['loss_in_next_poll'] else 'NOT the next poll'}")
