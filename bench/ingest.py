"""Terminal records ingest over HTTP (issue 4): `POST /api/v1/terminal/records` and the
blacklist delta, against gunicorn on the bench database, as canteen POS terminals use them.

Set-up (before any clock): a purse master key under the KEK made for this run (the
server gets the same one through its environment), --ingest-cards cardholders with
cards, each topped up by bank and the load written to the card by a kiosk (so the chip
holds the money, card_seq 1), --ingest-terminals canteen POS (merchants C1..C3), one
more POS at C1 that uploads single records, and one POS for the in-process profile.
Every record is made by the card itself, a `SoftCard` personalised with its real key
(derived from this run's master key by the terminal-side library), so per card
`card_seq` rises by one, `balance_before` chains across all terminals and every TAC is
right; requests are signed by the same library (`terminals.client`).
`--ingest-cards-mode shared` (default) lets every terminal sell to every card, so
concurrent batches lock the same cards; `own` gives each terminal its own cards.

Measured, against gunicorn (sync workers unless --ingest-gunicorn-args says otherwise),
the six figures of issue 13, printed as a table beside pgbench at the end of the run:
- the campus fleet: one client thread per terminal uploads its prepared batches back to
  back for --ingest-seconds, each sale at a random till to one of --ingest-cards cards;
  records accepted per second, set beside pgbench's tps;
- meanwhile the online POS uploads one record per request (the live sale: its p99; the
  same on the idle server first) and a clerk tops up campus cards through the
  operations API, one after another (the top-up's p99);
- the hot fleet: the same number of tills after lunch, every batch to the same
  --ingest-hot-cards cards, with the live sale again;
- the API's top-up throughput: eight clerks, each at their own counter (cash into their
  own drawer), back to back for --ingest-top-up-seconds with no upload running.
During the fleets PostgreSQL is sampled for lock waits, and CPU time is read
from /proc (client, gunicorn, all PostgreSQL processes; on a shared machine other
work shows as the gap to cpu_machine_busy_pct). Then --blacklist-cards lost cards are
listed and the delta (`since = current - 10`) and the full list are timed. Checked:
ledger_check() is empty, every record sent is stored accepted with its posting, and
the cards' chip balances equal the holders' purses. Last, in-process: statements and
milliseconds per phase of a batch of 500, of a single record and of a delta, and with
--profile cProfile's top functions (all also written to bench/out/ingest-profile.txt).

Django is imported inside the functions: `bench/__main__.py` sets it up first.
"""

from __future__ import annotations

import cProfile
import io
import json
import math
import os
import pstats
import random
import secrets
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.figures import ms, quantile
from terminals.client.card import SoftCard
from terminals.client.protocol import derive_card_key, signed_headers

RECORDS_PATH = "/api/v1/terminal/records"
BLACKLIST_PATH = "/api/v1/terminal/blacklist"
CONFIG_PATH = "/api/v1/terminal/config"
REPO = Path(__file__).resolve().parent.parent
OUT_DIR = Path(__file__).resolve().parent / "out"
TOP_UP = 100_000  # fen put on every card: far more than the run can spend
ONLINE_CARDS = 100  # cards only the online POS uses, so its chains stay its own
START_TIMEOUT = 60
SERVER_START_S = 30
HTTP_TIMEOUT_S = 120
# Prepare records for this many per second (more than any run reaches), so no
# terminal runs dry before the clock stops.
PREPARE_RATE = 9000
LOCK_SAMPLE_S = 0.05
GATE_BYTES = 64 * 1024  # --ingest-gate: bodies above this are "large" (500 records: ~120 KiB)
CPROFILE_BATCHES = 5
SINGLES_IN_PROCESS = 50
SETUP_CHUNK = 250  # cards set up per transaction
SINGLE_MIN_MS = 4  # no single-record upload is faster: prepare that many for the run
TOP_UP_PROBE = 100  # fen per top-up of the clerk's probe
TOP_UP_EVERY_S = 0.2  # a clerk's probe: a top-up started every 0.2 s at most
LIVE_SALE_EVERY_S = 0.1  # the online till's probe: a sale every 0.1 s at most
TOP_UP_API_THREADS = 8  # clerks at once for the API's top-up throughput
LIVE_WORKERS = 2  # the pool for the terminals' small requests (README, production)
COUNTER_WORKERS = 2  # the pool for the operations API


@dataclass(frozen=True)
class Term:
    pk: int
    terminal_id: str
    secret: str


@dataclass
class Batch:
    body: bytes
    records: int
    amount: int  # fen, summed over the batch


@dataclass
class Tally:
    """What one client saw: batches sent, records accepted, latencies, anything else."""

    sent_records: int = 0
    accepted: int = 0
    amount: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# --- records, made by the cards ----------------------------------------------------------


class Chains:
    """The cards, each holding its counter and purses: records are made in the order
    they will (roughly) be uploaded, so each card's chain runs across every terminal."""

    def __init__(self, cards: list[SoftCard], seed: int = 4) -> None:
        self.cards = cards
        self.rng = random.Random(seed)
        self.ts = int(time.time())

    def purchase(self, card_ix: int, terminal_id: str, terminal_seq: int) -> dict[str, Any]:
        card = self.cards[card_ix]
        amount = self.rng.randint(1, 20)
        made = card.transact("purchase", "main", amount, self.ts, terminal_seq, terminal_id)
        return {
            "type": "purchase", "terminal_seq": terminal_seq, "ts": self.ts,
            "card_no": card.card_no, "card_seq": made.card_seq, "purse": "main",
            "amount": amount, "balance_before": made.balance_before,
            "key_version": card.key_version, "tac": made.tac,
        }

    def batch(self, pool: list[int], term: Term, first_seq: int, size: int) -> Batch:
        records = [self.purchase(self.rng.choice(pool), term.terminal_id, first_seq + i)
                   for i in range(size)]
        body = json.dumps({"records": records}, separators=(",", ":")).encode()
        return Batch(body=body, records=size, amount=sum(r["amount"] for r in records))


# --- the client ----------------------------------------------------------------------------


def _headers(term: Term, method: str, path: str, body: bytes) -> dict[str, str]:
    return {**signed_headers(term.terminal_id, term.secret, method, path, body,
                             timestamp=int(time.time())),
            "Content-Type": "application/json"}


def _upload(session: requests.Session, base: str, term: Term, batch: Batch,
            tally: Tally) -> None:
    t0 = time.perf_counter()
    try:
        resp = session.post(base + RECORDS_PATH, data=batch.body,
                            headers=_headers(term, "POST", RECORDS_PATH, batch.body),
                            timeout=HTTP_TIMEOUT_S)
    except requests.RequestException as exc:
        tally.errors.append(f"{term.terminal_id}: {exc!r}")
        return
    elapsed = time.perf_counter() - t0
    tally.sent_records += batch.records
    if resp.status_code != 200:
        tally.errors.append(f"{term.terminal_id}: HTTP {resp.status_code} {resp.text[:200]}")
        return
    results = resp.json()["results"]
    accepted = sum(1 for r in results if r["status"] == "accepted")
    if accepted != batch.records or len(results) != batch.records:
        odd = next((r for r in results if r["status"] != "accepted"), None)
        tally.errors.append(f"{term.terminal_id}: {batch.records - accepted} not accepted: {odd}")
    tally.accepted += accepted
    tally.amount += batch.amount
    tally.latencies.append(elapsed)


def _get(session: requests.Session, base: str, term: Term, path: str) -> requests.Response:
    return session.get(base + path, headers=_headers(term, "GET", path, b""),
                       timeout=HTTP_TIMEOUT_S)


# --- CPU accounting from /proc ---------------------------------------------------------------


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> tuple[str, int, float, float] | None:
    """(comm, ppid, own cpu s, reaped children's cpu s) of a process, None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    rest = raw[raw.rindex(")") + 2:].split()
    # after comm: state ppid ... utime(14) stime(15) cutime(16) cstime(17), 1-based in stat
    ppid = int(rest[1])
    own = (int(rest[11]) + int(rest[12])) / _TICK
    children = (int(rest[13]) + int(rest[14])) / _TICK
    return comm, ppid, own, children


def _cpu_snapshot(server_pid: int | None) -> dict[str, float]:
    """CPU seconds used so far by this process (the client), the gunicorn master and
    workers, PostgreSQL (live processes plus the backends the postmaster reaped), and
    the whole machine."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) is not None:
            stats[int(entry.name)] = stat
    postgres = {pid for pid, (comm, *_rest) in stats.items() if comm == "postgres"}
    snap: dict[str, float] = defaultdict(float)
    snap["client"] = time.process_time()
    for pid, (_comm, ppid, own, children) in stats.items():
        if pid in postgres:
            snap["postgres"] += own + (children if ppid not in postgres else 0.0)
        elif server_pid is not None and server_pid in (pid, ppid):
            snap["server"] += own
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        snap["machine_busy"] = (sum(values) - values[3] - values[4]) / _TICK
        snap["machine_total"] = sum(values) / _TICK
    except (OSError, ValueError, IndexError):
        pass
    return snap


def _cpu_delta(before: dict[str, float], after: dict[str, float],
               seconds: float) -> dict[str, float]:
    """Cores busy on average over `seconds`, per group."""
    out = {f"cpu_{k}_cores": round((after.get(k, 0.0) - before.get(k, 0.0)) / seconds, 2)
           for k in ("client", "server", "postgres")}
    total = after.get("machine_total", 0.0) - before.get("machine_total", 0.0)
    if total > 0:
        busy = after["machine_busy"] - before["machine_busy"]
        out["cpu_machine_busy_pct"] = round(100 * busy / total, 1)
    return out


class LockSampler(threading.Thread):
    """Samples pg_stat_activity of the bench database every SAMPLE_S: how many backends
    are active, and how many of them wait for a lock (a row another batch holds)."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = database_url, threading.Event()
        self.samples: list[tuple[int, int]] = []
        self.waits: dict[str, int] = defaultdict(int)

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.wait(LOCK_SAMPLE_S):
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND state = 'active'").fetchall()
                locked = [r for r in rows if r[1] == "Lock"]
                for r in locked:
                    self.waits[str(r[2])] += 1
                self.samples.append((len(rows), len(locked)))

    def figures(self) -> dict[str, Any]:
        n = len(self.samples) or 1
        return {
            "pg_active_backends_avg": round(sum(a for a, _w in self.samples) / n, 2),
            "pg_backends_waiting_on_locks_avg": round(sum(w for _a, w in self.samples) / n, 2),
            "pg_lock_waits_by_event": dict(self.waits),
        }


# --- the server ----------------------------------------------------------------------------


_gate: threading.BoundedSemaphore | None = None
_application: Callable[..., Any] | None = None


def gated_application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    """The --ingest-gate experiment's WSGI entry (not the product's): onecard's own
    application, but each worker process serves at most BENCH_INGEST_GATE large uploads
    (bodies above GATE_BYTES) at once, so with threaded workers the small requests
    are not queued behind big batches and the big ones do not pile up on row locks."""
    global _gate, _application
    if _application is None:
        from onecard.wsgi import application

        _application = application
        _gate = threading.BoundedSemaphore(int(os.environ.get("BENCH_INGEST_GATE", "1")))
    assert _gate is not None
    if int(environ.get("CONTENT_LENGTH") or 0) <= GATE_BYTES:
        return _application(environ, start_response)
    with _gate:
        return _application(environ, start_response)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(database_url: str, *, workers: int, conn_max_age: int, extra: list[str],
            gate: int = 0, nice: int = 0, idle: bool = False,
            name: str = "ingest") -> Iterator[tuple[str, int]]:
    """gunicorn with `workers` workers (sync unless `extra` says otherwise) on a free
    port, at CPU priority `nice` (a bulk pool yields the cores to interactive ones);
    yields (base url, master pid)."""
    port = _free_port()
    url = database_url + (f"?conn_max_age={conn_max_age}" if conn_max_age else "")
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1",
           "DJANGO_SETTINGS_MODULE": "onecard.settings", "BENCH_INGEST_GATE": str(gate),
           "DB_BACKEND_NICE": str(nice)}
    app = "bench.ingest:gated_application" if gate else "onecard.wsgi:application"
    gunicorn = Path(sys.executable).parent / "gunicorn"
    OUT_DIR.mkdir(exist_ok=True)
    log_path = OUT_DIR / f"{name}-gunicorn.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*(["chrt", "--idle", "0"] if idle else ["nice", "-n", str(nice)] if nice else []),
             str(gunicorn), app,
             "--workers", str(workers),
             "--bind", f"127.0.0.1:{port}", "--timeout", str(HTTP_TIMEOUT_S), *extra],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + SERVER_START_S
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"gunicorn exited ({proc.returncode}); see {log_path}")
                try:
                    requests.get(base + CONFIG_PATH, timeout=5)
                    break
                except (requests.ConnectionError, requests.Timeout):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"gunicorn did not answer; see {log_path}") from None
                    time.sleep(0.2)
            yield base, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 2m;
    client_body_buffer_size 1m;
    proxy_read_timeout 120s;
    proxy_http_version 1.1;
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $remote_addr;
    upstream bulk {{ server 127.0.0.1:{bulk}; }}
    upstream terminal {{ server 127.0.0.1:{live}; }}
    upstream counter {{ server 127.0.0.1:{counter}; }}
    # As the README's production section: a record upload under 10,000 bytes (a live
    # sale, a short backlog: up to about 30 records) goes to the terminals' pool, a
    # backlog to the bulk pool.
    map $content_length $records_pool {{
        default bulk;
        "~^[0-9]{{1,4}}$" terminal;
    }}
    server {{
        listen 127.0.0.1:{port};
        location = /api/v1/terminal/records {{ proxy_pass http://$records_pool; }}
        location /api/v1/terminal/ {{ proxy_pass http://terminal; }}
        location / {{ proxy_pass http://counter; }}
    }}
}}
"""


@contextmanager
def _stack(database_url: str, *, workers: int, conn_max_age: int, extra: list[str],
           pools: bool, gate: int = 0, bulk_nice: int = 10,
           bulk_idle: bool = True) -> Iterator[tuple[str, int]]:
    """The server as the README's production section runs it: nginx in front of three
    gunicorn pools (bulk record uploads on SCHED_IDLE, their database backends at nice 10,
    the terminals' small requests, the
    counter's operations API), routed by path and body size; or, with `pools` off, one
    pool alone (the comparison). Yields (nginx's base url, the bulk pool's master pid)."""
    if not pools:
        with _server(database_url, workers=workers, conn_max_age=conn_max_age,
                     extra=extra, gate=gate) as served:
            yield served
        return
    nginx = _nginx_binary()
    with _server(database_url, workers=workers, conn_max_age=conn_max_age, extra=extra,
                 nice=bulk_nice, idle=bulk_idle, name="bulk") as (bulk, pid), \
            _server(database_url, workers=LIVE_WORKERS, conn_max_age=conn_max_age,
                    extra=extra, name="live") as (live, _live_pid), \
            _server(database_url, workers=COUNTER_WORKERS, conn_max_age=conn_max_age,
                    extra=extra, name="counter") as (counter, _counter_pid), \
            tempfile.TemporaryDirectory(prefix="onecard-nginx-") as tmp:
        port = _free_port()
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(
            tmp=tmp, port=port, bulk=bulk.rsplit(":", 1)[1], live=live.rsplit(":", 1)[1],
            counter=counter.rsplit(":", 1)[1]))
        proc = subprocess.Popen([nginx, "-c", str(conf), "-p", tmp, "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + SERVER_START_S
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"nginx exited ({proc.returncode}); see {tmp}/error.log")
                try:
                    requests.get(base + CONFIG_PATH, timeout=5)
                    break
                except (requests.ConnectionError, requests.Timeout):
                    if time.monotonic() > deadline:
                        raise RuntimeError("nginx did not answer") from None
                    time.sleep(0.1)
            yield base, pid
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def _nginx_binary() -> str:
    for candidate in ("/usr/sbin/nginx", shutil.which("nginx")):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("nginx is not installed (scripts/install-system-deps.sh installs it)")


# --- set-up in the bench database -------------------------------------------------------------


def _setup(args: Any, cards_total: int | None = None, hot_terminals: bool = False,
           ) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from accounts import services
    from accounts.keys import key_import
    from accounts.models import KeyPurpose
    from terminals import ingest
    from terminals.models import Terminal
    from terminals.services import terminal_register

    User = get_user_model()
    clerk, _created = User.objects.get_or_create(username="bench-ingest")
    master_hex = secrets.token_hex(16)
    key_import(purpose=KeyPurpose.PURSE, version=1, key_hex=master_hex, by=clerk,
               channel="bench")
    master = bytes.fromhex(master_hex)

    t0 = time.perf_counter()
    loads = []
    total = cards_total if cards_total is not None else args.ingest_cards
    for start in range(1, total + 1, SETUP_CHUNK):
        # Through the services, as the card office does it; a chunk per transaction so
        # the set-up does not wait for a WAL flush per card.
        with transaction.atomic():
            for n in range(start, min(start + SETUP_CHUNK, total + 1)):
                holder = services.cardholder_create(
                    number=f"ING{n:06d}", name=f"Ingest holder {n}", kind="student", by=clerk,
                    channel="bench")
                card = services.card_issue(cardholder=holder, uid=f"c1{n:06x}", by=clerk,
                                           channel="bench")
                loads.append((card, services.card_top_up(
                    card=card, amount=TOP_UP, method="bank", by=clerk, reference="bench",
                    channel="bench")))
    cards_s = time.perf_counter() - t0

    def register(kind: str, name: str, merchant: str | None = None) -> Term:
        terminal, secret = terminal_register(kind=kind, name=name, by=clerk,
                                             merchant_code=merchant, channel="bench")
        return Term(pk=terminal.pk, terminal_id=terminal.terminal_id, secret=secret)

    bulk = [register("pos", f"Canteen {i % 3 + 1} POS {i + 1}", f"C{i % 3 + 1}")
            for i in range(args.ingest_terminals)]
    # The hot fleet: the same canteens' tills after lunch, selling to a few hundred cards.
    hot = [register("pos", f"Canteen {i % 3 + 1} POS {i + 1} after lunch", f"C{i % 3 + 1}")
           for i in range(args.ingest_terminals)] if hot_terminals else []
    online = register("pos", "Canteen 1 online POS", "C1")
    profiled = register("pos", "Canteen 2 profiled POS", "C2")
    kiosk = register("kiosk", "Kiosk 1")

    # Each card personalised with its key (as the issuer derives it from the master
    # key); the kiosk writes each top-up to its card (card_seq 1) and uploads the load.
    kiosk_row = Terminal.objects.get(pk=kiosk.pk)
    cards = []
    for card, _load in loads:
        soft = SoftCard(bytes.fromhex(card.uid))
        soft.personalise(card.key_version, derive_card_key(master, soft.uid, card.card_no),
                         card.card_no)
        cards.append(soft)
    t0 = time.perf_counter()
    for start in range(0, len(loads), 500):
        records = []
        for i, (soft, (_card, load)) in enumerate(
                zip(cards[start:start + 500], loads[start:start + 500], strict=True),
                start=start + 1):
            ts = int(time.time())
            made = soft.transact("load", "main", TOP_UP, ts, i, kiosk.terminal_id)
            records.append({"type": "load", "terminal_seq": i, "ts": ts,
                            "card_no": soft.card_no, "card_seq": made.card_seq,
                            "purse": "main", "amount": TOP_UP,
                            "balance_before": made.balance_before,
                            "key_version": soft.key_version, "load_id": load.load_id,
                            "tac": made.tac})
        answer = ingest.records_ingest(terminal=kiosk_row, records=records)
        odd = [r for r in answer.results if r["status"] != "accepted"]
        if odd:
            raise RuntimeError(f"kiosk loads not accepted: {odd[:3]}")
    loads_s = time.perf_counter() - t0

    return {"clerk": clerk, "cards": cards, "bulk": bulk, "hot": hot,
            "online": online, "profiled": profiled, "cards_s": cards_s, "loads_s": loads_s}


def _analyze() -> None:
    """Fresh planner statistics, as autovacuum keeps them on a deployed server (this
    machine's PostgreSQL runs with autovacuum off, and the bench database was just
    flushed and filled: without statistics the ledger's deferred triggers plan
    sequential scans)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def _prepare(chains: Chains, bulk: list[Term], *, batches: int, size: int,
             shared: bool, pool: list[int] | None = None) -> list[list[Batch]]:
    """Each bulk terminal's batches, made round by round across terminals (the order
    they will roughly reach the server), from the cards of `pool` (default: all but the
    online POS's). `shared`: every terminal sells to every card; else each terminal has
    its own share of the cards."""
    pool = pool if pool is not None else list(range(ONLINE_CARDS, len(chains.cards)))
    pools = [pool if shared else pool[t::len(bulk)] for t in range(len(bulk))]
    out: list[list[Batch]] = [[] for _ in bulk]
    for k in range(batches):
        for t, term in enumerate(bulk):
            out[t].append(chains.batch(pools[t], term, k * size + 1, size))
    return out


# --- the measurements -------------------------------------------------------------------------




def _single_loop(base: str, term: Term, batches: Iterator[Batch], tally: Tally,
                 keep_going: Callable[[], bool], every: float = 0.0) -> None:
    """Single-record uploads one after another, one started every `every` seconds at
    most (0: back to back)."""
    session = requests.Session()
    while keep_going():
        batch = next(batches, None)
        if batch is None:
            break
        started = time.perf_counter()
        _upload(session, base, term, batch, tally)
        if every:
            time.sleep(max(0.0, every - (time.perf_counter() - started)))


class TopUps:
    """A clerk at the counter topping up cards through the operations API
    (`POST /api/v1/cards/{card_no}/top-up`, 1.00 in cash each, into the clerk's own
    cash drawer), one after another: the latency of each, and what was put on."""

    def __init__(self, base: str, token: str, card_nos: list[str], seed: int) -> None:
        self.base, self.token, self.card_nos = base, token, card_nos
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.session = requests.Session()

    def once(self) -> None:
        card_no = self.rng.choice(self.card_nos)
        body = json.dumps({"amount": TOP_UP_PROBE, "purse": "main", "method": "cash",
                           "reference": "bench"}).encode()
        t0 = time.perf_counter()
        try:
            resp = self.session.post(
                f"{self.base}/api/v1/cards/{card_no}/top-up", data=body, timeout=HTTP_TIMEOUT_S,
                headers={"Authorization": f"Token {self.token}",
                         "Content-Type": "application/json",
                         "Idempotency-Key": secrets.token_hex(16)})
        except requests.RequestException as exc:
            self.tally.errors.append(f"top-up {card_no}: {exc!r}")
            return
        elapsed = time.perf_counter() - t0
        if resp.status_code != 201:
            self.tally.errors.append(f"top-up {card_no}: HTTP {resp.status_code} "
                                     f"{resp.text[:200]}")
            return
        self.tally.accepted += 1
        self.tally.amount += TOP_UP_PROBE
        self.tally.latencies.append(elapsed)

    def loop(self, keep_going: Callable[[], bool], every: float = TOP_UP_EVERY_S) -> None:
        """One top-up started every `every` seconds at most (0: back to back)."""
        while keep_going():
            started = time.perf_counter()
            self.once()
            if every:
                time.sleep(max(0.0, every - (time.perf_counter() - started)))


def _bulk_run(base: str, server_pid: int, bulk: list[Term], prepared: list[list[Batch]],
              online: Term, online_batches: Iterator[Batch], *, seconds: float,
              database_url: str, top_ups: TopUps | None = None) -> dict[str, Any]:
    """The bulk terminals upload for `seconds` (each finishes the batch in flight) while
    the online POS uploads single records (and, with `top_ups`, a clerk tops cards up);
    the clock runs from the release of all threads to the end of the last bulk upload."""
    n = len(bulk)
    clock: list[float] = [0.0]
    barrier = threading.Barrier(n + 1, action=lambda: clock.__setitem__(0, time.perf_counter()))
    tallies = [Tally() for _ in bulk]
    ran_dry: list[str] = []
    done = threading.Event()

    def worker(i: int) -> None:
        session = requests.Session()
        barrier.wait(timeout=START_TIMEOUT)
        deadline = clock[0] + seconds
        for batch in prepared[i]:
            if time.perf_counter() >= deadline:
                return
            _upload(session, base, bulk[i], batch, tallies[i])
        ran_dry.append(bulk[i].terminal_id)

    online_tally = Tally()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    # The live sale is paced as a busy online till is (a sale every LIVE_SALE_EVERY_S):
    # a probe, not a load of its own; back to back it would be a second fleet.
    single = threading.Thread(target=_single_loop, daemon=True, args=(
        base, online, online_batches, online_tally, lambda: not done.is_set(),
        LIVE_SALE_EVERY_S))
    clerk = threading.Thread(target=top_ups.loop, args=(lambda: not done.is_set(),),
                             daemon=True) if top_ups is not None else None
    sampler = LockSampler(database_url)
    for thread in threads:
        thread.start()
    cpu0 = _cpu_snapshot(server_pid)
    barrier.wait(timeout=START_TIMEOUT)
    single.start()
    if clerk is not None:
        clerk.start()
    sampler.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - clock[0]
    cpu1 = _cpu_snapshot(server_pid)
    sampler.stop.set()
    done.set()
    single.join()
    if clerk is not None:
        clerk.join()
    sampler.join()
    accepted = sum(t.accepted for t in tallies)
    lat = [x for t in tallies for x in t.latencies]
    errors = [e for t in [*tallies, online_tally] for e in t.errors]
    if top_ups is not None:
        errors += top_ups.tally.errors
    return {
        "tallies": tallies, "online": online_tally, "elapsed": elapsed, "errors": errors,
        "ran_dry": ran_dry, "figures": {
            "seconds": round(elapsed, 2),
            "batches": len(lat),
            "records_accepted": accepted,
            "records_per_s": round(accepted / elapsed, 1),
            "batch_p50_ms": ms(quantile(lat, 0.5)),
            "batch_p99_ms": ms(quantile(lat, 0.99)),
            "single_requests": len(online_tally.latencies),
            "single_p50_ms": ms(quantile(online_tally.latencies, 0.5)),
            "single_p99_ms": ms(quantile(online_tally.latencies, 0.99)),
            **({"top_up_requests": len(top_ups.tally.latencies),
                "top_up_p50_ms": ms(quantile(top_ups.tally.latencies, 0.5)),
                "top_up_p99_ms": ms(quantile(top_ups.tally.latencies, 0.99))}
               if top_ups is not None else {}),
            **_cpu_delta(cpu0, cpu1, elapsed),
            **sampler.figures(),
        },
    }


def _blacklist_fill(count: int) -> dict[str, Any]:
    """`count` lost (so listed) cards with their holders and blacklist versions, in bulk."""
    from django.db import transaction

    from accounts.models import (
        BlacklistAction,
        BlacklistCounter,
        BlacklistVersion,
        Card,
        Cardholder,
        CardStatus,
    )

    t0 = time.perf_counter()
    with transaction.atomic():
        counter, _created = BlacklistCounter.objects.get_or_create(id=1)
        counter = BlacklistCounter.objects.select_for_update().get(id=1)
        holders = Cardholder.objects.bulk_create(
            [Cardholder(number=f"BL{n:07d}", name=f"Lost card holder {n}", kind="student")
             for n in range(count)], batch_size=5000)
        cards = Card.objects.bulk_create(
            [Card(card_no=f"77{n:08d}", uid=f"bb{n:08x}", cardholder=holder,
                  status=CardStatus.LOST, blacklisted=True, key_version=1)
             for n, holder in enumerate(holders)], batch_size=5000)
        first = counter.version + 1
        BlacklistVersion.objects.bulk_create(
            [BlacklistVersion(version=first + n, card=card, card_no=card.card_no,
                              action=BlacklistAction.ADD, reason="lost")
             for n, card in enumerate(cards)], batch_size=5000)
        counter.version += count
        counter.save(update_fields=["version"])
    return {"version": counter.version, "fill_s": time.perf_counter() - t0}


def _blacklist_times(base: str, term: Term, version: int, *, requests_n: int,
                     full_n: int) -> dict[str, Any]:
    session = requests.Session()
    since = max(version - 10, 1)
    delta_path = f"{BLACKLIST_PATH}?since={since}"
    lat: list[float] = []
    for _ in range(requests_n):
        t0 = time.perf_counter()
        resp = _get(session, base, term, delta_path)
        lat.append(time.perf_counter() - t0)
        if resp.status_code != 200 or resp.json()["full"]:
            raise RuntimeError(f"blacklist delta: {resp.status_code} {resp.text[:200]}")
    listed = len(resp.json()["add"])
    full: list[float] = []
    size = 0
    for _ in range(full_n):
        t0 = time.perf_counter()
        resp = _get(session, base, term, f"{BLACKLIST_PATH}?since=0")
        full.append(time.perf_counter() - t0)
        size = len(resp.content)
        if resp.status_code != 200 or not resp.json()["full"]:
            raise RuntimeError(f"blacklist full: {resp.status_code} {resp.text[:200]}")
    return {
        "blacklist_delta_requests": requests_n,
        "blacklist_delta_cards": listed,
        "blacklist_delta_p50_ms": ms(quantile(lat, 0.5)),
        "blacklist_delta_p99_ms": ms(quantile(lat, 0.99)),
        "blacklist_full_listed": len(resp.json()["add"]),
        "blacklist_full_bytes": size,
        "blacklist_full_p50_ms": ms(quantile(full, 0.5)),
        "blacklist_full_max_ms": ms(max(full)),
    }


def _idle_single(base: str, term: Term, batches: Iterator[Batch], count: int) -> Tally:
    tally = Tally()
    left = [count]

    def more() -> bool:
        left[0] -= 1
        return left[0] >= 0

    _single_loop(base, term, batches, tally, more)
    return tally


def _warm_up(base: str, terms: list[Term], workers: int) -> None:
    """Every worker has served a request (URLconf loaded, secrets unwrapped)."""
    def hit(term: Term) -> None:
        session = requests.Session()
        for _ in range(3):
            _get(session, base, term, CONFIG_PATH).raise_for_status()

    threads = [threading.Thread(target=hit, args=(terms[i % len(terms)],))
               for i in range(max(workers * 2, len(terms)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _verify(sent: int, amount: int, terms: list[Term], cards: list[SoftCard],
            topped_up: int = 0) -> dict[str, Any]:
    """Every record sent is stored and accepted; the books and the cards agree: the
    cards hold what was loaded less what was sold, the purses that plus the top-ups
    still waiting to be written (pending loads)."""
    from django.db.models import Sum

    from accounts.models import Card, LedgerAccount, LoadStatus, PendingLoad, Posting
    from accounts.selectors import ledger_check
    from terminals.models import RecordStatus, TerminalRecord

    t0 = time.perf_counter()
    breaches = ledger_check()
    stored = TerminalRecord.objects.filter(terminal_id__in=[t.pk for t in terms])
    accepted = stored.filter(status=RecordStatus.ACCEPTED).count()
    flagged = stored.exclude(flags=[]).count()
    postings = Posting.objects.filter(kind="record_purchase").count()
    numbers = [c.card_no for c in cards]
    on_cards = Card.objects.filter(card_no__in=numbers).aggregate(s=Sum("card_main"))["s"] or 0
    purses = (LedgerAccount.objects.filter(code__startswith="purse_main:ING")
              .aggregate(s=Sum("balance"))["s"] or 0)
    expected = TOP_UP * len(cards) - amount
    pending = (PendingLoad.objects.filter(status=LoadStatus.PENDING, card__card_no__in=numbers)
               .aggregate(s=Sum("amount"))["s"] or 0)
    return {
        "ledger_check_ok": not breaches,
        "ledger_breaches": [f"{b.rule} {b.subject}: {b.detail}" for b in breaches[:5]],
        "records_sent": sent,
        "records_stored_accepted": accepted,
        "all_sent_accepted": accepted == sent == stored.count() == postings,
        "records_flagged": flagged,
        "cards_and_purses_agree": on_cards == expected and pending == topped_up
        and purses == expected + topped_up,
        "verify_s": round(time.perf_counter() - t0, 2),
    }


# --- the in-process profile ------------------------------------------------------------------


class Phases:
    """Time named functions of the server path by wrapping them for a while: inclusive
    seconds per name, summed over the calls."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.marks: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, label: str | Callable[..., str],
             on_start: Callable[..., None] | None = None,
             on_end: Callable[[], None] | None = None) -> None:
        """`label` names the phase, or picks it from the call's arguments; `on_start`
        is called with them before the call, `on_end` after it."""
        original = getattr(owner, name)
        had_own = name in vars(owner) if hasattr(owner, "__dict__") else True

        def timed(*args: Any, **kwargs: Any) -> Any:
            phase = label(*args, **kwargs) if callable(label) else label
            if on_start is not None:
                on_start(*args, **kwargs)
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[phase] += time.perf_counter() - t0
                if on_end is not None:
                    on_end()

        setattr(owner, name, timed)

        def undo() -> None:
            if had_own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)

        self._undo.append(undo)

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()


class _TimedCursor:
    """A psycopg cursor whose statements are timed into a log."""

    def __init__(self, cursor: Any, log: list[tuple[float, str]]) -> None:
        self._cursor, self._log = cursor, log

    def execute(self, sql: str, params: Any = None) -> Any:
        t0 = time.perf_counter()
        try:
            return self._cursor.execute(sql, params)
        finally:
            self._log.append((time.perf_counter() - t0, sql))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


@contextmanager
def _sql_logged() -> Iterator[list[tuple[float, str]]]:
    """Every statement of the server path with its time: Django's queries (through an
    execute wrapper) and the set-based ones sent on `core.db.bulk_cursor`, which
    Django's query log (CaptureQueriesContext) does not see."""
    from django.db import connection

    log: list[tuple[float, str]] = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool,
                context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            log.append((time.perf_counter() - t0, sql))

    patched: list[tuple[Any, Any]] = []
    try:
        from core import db as onecard_db

        original = onecard_db.bulk_cursor

        @contextmanager
        def logged_bulk_cursor() -> Iterator[Any]:
            with original() as cur:
                yield _TimedCursor(cur, log)

        for module in list(sys.modules.values()):
            if getattr(module, "bulk_cursor", None) is original:
                patched.append((module, original))
                setattr(module, "bulk_cursor", logged_bulk_cursor)  # noqa: B010
    except ImportError:  # an older tree without the bulk cursor
        pass
    try:
        with connection.execute_wrapper(wrapper):
            yield log
    finally:
        for module, original in patched:
            setattr(module, "bulk_cursor", original)  # noqa: B010


@contextmanager
def _phases_installed() -> Iterator[Phases]:
    from django.db import connections

    from accounts import ledger
    from accounts.services import movements
    from terminals import ingest

    phases = Phases()
    # The locks are held from the locked read of the figures (cards, loads, purses) to
    # the end of the commit: "held_locks" measures that window, the one that a top-up
    # or a live sale of the same card or purse may wait for.
    def locks_label(*_args: Any, **kwargs: Any) -> str:
        return "locks" if kwargs.get("lock") else "figures_read"

    def locks_start(*_args: Any, **kwargs: Any) -> None:
        if kwargs.get("lock"):
            phases.marks.setdefault("locks_start", time.perf_counter())

    def commit_end() -> None:
        start = phases.marks.pop("locks_start", None)
        if start is not None:
            phases.spent["held_locks"] += time.perf_counter() - start

    phases.wrap(ingest, "content_hash", "hash")
    phases.wrap(ingest, "validate_record", "validate")
    phases.wrap(ingest, "cards_by_number", "cards_lookup")
    phases.wrap(ingest, "_check_purse_records", "tac")
    phases.wrap(ingest, "card_movements_apply", "movements")
    phases.wrap(movements, "_figures", locks_label, on_start=locks_start)
    phases.wrap(movements, "_plan", "plan")
    phases.wrap(ledger, "postings_insert", "early_write")
    phases.wrap(ledger, "deferred_checks_run", "deferred_checks")
    phases.wrap(ledger, "balances_apply", "balances")
    phases.wrap(ledger, "postings_write", "postings_write")
    phases.wrap(ledger, "postings_write_purses", "postings_write")
    phases.wrap(movements, "_cards_save_balances", "card_update")
    # The batch decided early takes its first lock in _cards_move.
    phases.wrap(movements, "_cards_move", "card_update",
                on_start=lambda *_a, **_k: locks_start(lock=True))
    phases.wrap(ledger, "balances_apply_within", "balances")
    phases.wrap(ledger, "counters_apply", "counters")
    phases.wrap(ingest, "_store", "record_insert")
    phases.wrap(ingest, "_advance_contiguous", "contiguous_advance")
    phases.wrap(connections["default"], "commit", "commit", on_end=commit_end)
    try:
        yield phases
    finally:
        phases.restore()


def _profile(setup: dict[str, Any], chains: Chains, *, size: int, batches: int,
             cprofile: bool) -> dict[str, Any]:
    """The server path in this process, on the profiled POS's own batches: queries per
    batch, time per phase (auth, parse, ... commit), and optionally cProfile."""
    from django.db import connections
    from django.test import Client

    from terminals import ingest
    from terminals.auth import terminal_authenticate
    from terminals.models import Terminal

    term: Term = setup["profiled"]
    pool = list(range(ONLINE_CARDS, len(chains.cards)))
    seq = [0]

    def next_batch_of(n: int) -> Batch:
        b = chains.batch(pool, term, seq[0] + 1, n)
        seq[0] += n
        return b

    def next_batch() -> Batch:
        return next_batch_of(size)

    def auth_and_parse(batch: Batch) -> tuple[Terminal, list[dict[str, Any]], float, float]:
        h = _headers(term, "POST", RECORDS_PATH, batch.body)
        t0 = time.perf_counter()
        terminal = terminal_authenticate(
            terminal_id=h["X-Terminal-Id"], timestamp=h["X-Timestamp"], nonce=h["X-Nonce"],
            signature=h["X-Signature"], method="POST", path_with_query=RECORDS_PATH,
            body=batch.body)
        t1 = time.perf_counter()
        records = ingest.parse_batch(batch.body)
        return terminal, records, t1 - t0, time.perf_counter() - t1

    # Warm: the master key's first unwrap and the card keys' cache.
    terminal, records, _a, _p = auth_and_parse(next_batch())
    ingest.records_ingest(terminal=terminal, records=records)

    # The statements of one batch, with their times, and the commit.
    terminal, records, _a, _p = auth_and_parse(next_batch())
    with _sql_logged() as log, _phases_installed() as one:
        ingest.records_ingest(terminal=terminal, records=records)
    queries = [(t * 1000, " ".join(sql.split())[:110]) for t, sql in log]
    queries.append((one.spent["commit"] * 1000, "COMMIT (the deferred constraint triggers run)"))

    # Phases over `batches` batches (function wrappers: a microsecond or so each).
    totals: dict[str, float] = defaultdict(float)
    bare: list[float] = []
    for _ in range(batches):
        terminal, records, a, p = auth_and_parse(next_batch())
        totals["auth"] += a
        totals["parse"] += p
        with _phases_installed() as phases:
            t0 = time.perf_counter()
            ingest.records_ingest(terminal=terminal, records=records)
            totals["records_ingest"] += time.perf_counter() - t0
        for name, spent in phases.spent.items():
            totals[name] += spent
    for _ in range(batches):  # the same without wrappers, to show they cost nothing
        terminal, records, _a, _p = auth_and_parse(next_batch())
        t0 = time.perf_counter()
        ingest.records_ingest(terminal=terminal, records=records)
        bare.append(time.perf_counter() - t0)

    # The whole request in-process (middleware, DRF, auth, parse, ingest, JSON answer).
    client = Client()
    whole: list[float] = []
    for _ in range(batches):
        batch = next_batch()
        h = _headers(term, "POST", RECORDS_PATH, batch.body)
        del h["Content-Type"]
        t0 = time.perf_counter()
        resp = client.generic("POST", RECORDS_PATH, batch.body,
                              content_type="application/json", headers=h)
        whole.append(time.perf_counter() - t0)
        if resp.status_code != 200:
            raise RuntimeError(f"in-process upload: {resp.status_code} {resp.content[:200]!r}")
    single: list[float] = []
    single_queries: list[tuple[float, str]] = []
    for i in range(SINGLES_IN_PROCESS):
        batch = next_batch_of(1)
        h = _headers(term, "POST", RECORDS_PATH, batch.body)
        del h["Content-Type"]
        with _sql_logged() as log, _phases_installed() as one:
            t0 = time.perf_counter()
            resp = client.generic("POST", RECORDS_PATH, batch.body,
                                  content_type="application/json", headers=h)
            single.append(time.perf_counter() - t0)
        if i == 0:
            single_queries = [(t * 1000, " ".join(sql.split())[:110]) for t, sql in log]
            single_queries.append((one.spent["commit"] * 1000, "COMMIT"))
        if resp.status_code != 200:
            raise RuntimeError(f"in-process upload: {resp.status_code} {resp.content[:200]!r}")
    delta, delta_queries = _delta_in_process(client, term)
    connections.close_all()

    per_batch_ms = {k: v * 1000 / batches for k, v in totals.items()}
    exclusive = _exclusive(per_batch_ms)
    profile_text = ""
    if cprofile:
        work = [auth_and_parse(next_batch())[:2] for _ in range(CPROFILE_BATCHES)]
        profile_text = _cprofile(
            lambda: [ingest.records_ingest(terminal=t, records=r) for t, r in work])
    return {
        "queries": queries, "phases_ms": exclusive, "profile_text": profile_text,
        "delta_queries": delta_queries, "single_queries": single_queries,
        "figures": {
            "profile_batches": batches,
            "profile_statements_per_batch": len(queries) - 1,
            "profile_db_ms_per_batch": round(sum(q[0] for q in queries), 2),
            "profile_ingest_ms_per_batch": round(per_batch_ms["records_ingest"], 2),
            "profile_held_locks_ms_per_batch": round(per_batch_ms.get("held_locks", 0), 2),
            "profile_ingest_unwrapped_ms_per_batch": round(1000 * statistics.mean(bare), 2),
            "profile_request_ms_per_batch": round(1000 * statistics.mean(whole), 2),
            "profile_records_per_s_one_process": round(size / statistics.mean(whole), 1),
            "profile_single_request_p50_ms": ms(quantile(single, 0.5)),
            "profile_blacklist_delta_p50_ms": ms(quantile(delta, 0.5)),
            **{f"phase_{k}_ms": round(v, 2) for k, v in exclusive.items()},
        },
    }


def _delta_in_process(client: Any, term: Term) -> tuple[list[float], list[tuple[float, str]]]:
    """The blacklist delta request in-process: its times and one request's statements."""
    from accounts.selectors import blacklist_version

    path = f"{BLACKLIST_PATH}?since={max(blacklist_version() - 10, 1)}"
    times: list[float] = []
    for i in range(SINGLES_IN_PROCESS + 1):
        h = _headers(term, "GET", path, b"")
        del h["Content-Type"]
        with _sql_logged() as log:
            t0 = time.perf_counter()
            resp = client.get(path, headers=h)
            times.append(time.perf_counter() - t0)
        if resp.status_code != 200:
            raise RuntimeError(f"in-process delta: {resp.status_code} {resp.content[:200]!r}")
        if i == 0:
            statements = [(t * 1000, " ".join(sql.split())[:110]) for t, sql in log]
    return times[1:], statements


def _exclusive(ms: dict[str, float]) -> dict[str, float]:
    """Inclusive phase times to exclusive ones, in the order the request meets them."""
    inner = ("figures_read", "early_write", "deferred_checks", "locks", "plan", "balances",
             "postings_write", "card_update", "counters")
    movements_inner = sum(ms.get(name, 0) for name in inner)
    named_in_ingest = (ms.get("hash", 0) + ms.get("validate", 0) + ms.get("cards_lookup", 0)
                       + ms.get("tac", 0) + ms.get("movements", 0) + ms.get("record_insert", 0)
                       + ms.get("contiguous_advance", 0) + ms.get("commit", 0))
    return {
        "auth": ms.get("auth", 0),
        "parse": ms.get("parse", 0),
        "hash": ms.get("hash", 0),
        "validate": ms.get("validate", 0),
        "cards_lookup": ms.get("cards_lookup", 0),
        "tac": ms.get("tac", 0),
        **{name: ms.get(name, 0) for name in inner},
        "movements_other": ms.get("movements", 0) - movements_inner,
        "record_insert": ms.get("record_insert", 0),
        "contiguous_advance": ms.get("contiguous_advance", 0),
        "commit": ms.get("commit", 0),
        "ingest_other": ms.get("records_ingest", 0) - named_in_ingest,
    }


def _cprofile(work: Callable[[], Any]) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    work()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(30)
    return out.getvalue()


# --- the section ---------------------------------------------------------------------------------


def _simulated_fleet(base: str, seconds: float) -> dict[str, Any]:
    """The fleet simulator (soft cards, offline backlogs, re-sent batches, a lost card
    refused once listed) against the same server: a realistic mix, not a best case."""
    from terminals.simulator import SimulationOptions, run_simulation

    summary = run_simulation(SimulationOptions(server=base, pos=10, kiosks=2, cards=200,
                                               seconds=seconds, seed=7))
    return {
        "sim_records_accepted": summary.statuses["accepted"],
        "sim_records_duplicate": summary.statuses["duplicate"],
        "sim_records_rejected": summary.statuses["rejected"],
        "sim_records_per_s": round(summary.records_per_second, 1),
        "sim_upload_p50_ms": round(summary.latency_ms(0.50), 1),
        "sim_upload_p99_ms": round(summary.latency_ms(0.99), 1),
        "sim_balances_match": summary.ok,
    }


def _top_up_throughput(base: str, tokens: list[str], card_nos: list[str], *,
                       seconds: float) -> TopUps:
    """A clerk per token, each at their own counter, tops up back to back through the
    API for `seconds` while no terminal uploads; one TopUps holds what they all did."""
    clerks = [TopUps(base, token, card_nos, seed=100 + i) for i, token in enumerate(tokens)]
    deadline = time.perf_counter() + seconds
    workers = [threading.Thread(target=c.loop, args=(lambda: time.perf_counter() < deadline, 0.0),
                                daemon=True) for c in clerks]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    total = TopUps(base, tokens[0], card_nos, seed=0)
    for c in clerks:
        total.tally.accepted += c.tally.accepted
        total.tally.amount += c.tally.amount
        total.tally.latencies += c.tally.latencies
        total.tally.errors += c.tally.errors
    total.tally.sent_records = round(elapsed * 1000)  # ms the clerks worked, for the rate
    return total


def run(ctx: Any) -> dict[str, Any]:
    from onecard.staff import staff_user_ensure

    args = ctx.args
    size = args.ingest_batch
    t0 = time.perf_counter()
    campus_n, hot_n = args.ingest_cards, args.ingest_hot_cards
    setup = _setup(args, cards_total=ONLINE_CARDS + campus_n + hot_n, hot_terminals=hot_n > 0)
    _clerk, token = staff_user_ensure(username="bench-counter", role="card_office",
                                      channel="bench")
    counter_tokens = [staff_user_ensure(username=f"bench-counter-{i}", role="card_office",
                                        channel="bench")[1].key
                      for i in range(1, TOP_UP_API_THREADS + 1)]
    if not args.ingest_no_analyze:
        _analyze()
    chains = Chains(setup["cards"])
    campus_pool = list(range(ONLINE_CARDS, ONLINE_CARDS + campus_n))
    hot_pool = list(range(ONLINE_CARDS + campus_n, ONLINE_CARDS + campus_n + hot_n))
    t1 = time.perf_counter()
    per_terminal = args.ingest_batches or math.ceil(
        args.ingest_seconds * PREPARE_RATE / (len(setup["bulk"]) * size))
    prepared = _prepare(chains, setup["bulk"], batches=per_terminal, size=size,
                        shared=args.ingest_cards_mode == "shared", pool=campus_pool)
    # The hot fleet: every batch of every till sells to the same few hundred cards.
    hot_prepared = _prepare(chains, setup["hot"], batches=per_terminal, size=size,
                            shared=True, pool=hot_pool) if hot_n else []
    online: Term = setup["online"]
    online_pool = list(range(ONLINE_CARDS))
    singles = args.ingest_idle_singles + 2 * int(args.ingest_seconds * 1000 / SINGLE_MIN_MS)
    online_batches = iter([chains.batch(online_pool, online, seq, 1)
                           for seq in range(1, singles + 1)])
    prepare_s = time.perf_counter() - t1

    figures: dict[str, Any] = {
        "cards": campus_n, "hot_cards": hot_n, "terminals": len(setup["bulk"]), "batch": size,
        "workers": args.ingest_workers, "conn_max_age": args.ingest_conn_max_age,
        "cards_mode": args.ingest_cards_mode, "analyzed": not args.ingest_no_analyze,
        "gunicorn_args": args.ingest_gunicorn_args, "gate": args.ingest_gate,
        "load_avg_1min_before": round(os.getloadavg()[0], 2),
    }
    terms = [*setup["bulk"], *setup["hot"], online]
    campus_card_nos = [setup["cards"][i].card_no for i in campus_pool]
    figures["pools"] = not args.ingest_one_pool
    figures["bulk_nice"] = args.ingest_bulk_nice
    figures["bulk_policy"] = args.ingest_bulk_policy
    with _stack(ctx.database_url, workers=args.ingest_workers,
                conn_max_age=args.ingest_conn_max_age,
                extra=shlex.split(args.ingest_gunicorn_args),
                pools=not args.ingest_one_pool and not args.ingest_gate,
                gate=args.ingest_gate, bulk_nice=args.ingest_bulk_nice,
                bulk_idle=args.ingest_bulk_policy == "idle") as (base, pid):
        _warm_up(base, terms, args.ingest_workers)
        idle = _idle_single(base, online, online_batches, args.ingest_idle_singles)
        top_ups = TopUps(base, token.key, campus_card_nos, seed=5)
        measured = _bulk_run(base, pid, setup["bulk"], prepared, online, online_batches,
                             seconds=args.ingest_seconds, database_url=ctx.database_url,
                             top_ups=top_ups)
        figures.update(measured["figures"])
        tallies: list[Tally] = [*measured["tallies"], measured["online"], idle]
        errors = [*measured["errors"], *idle.errors]
        if hot_n:
            hot = _bulk_run(base, pid, setup["hot"], hot_prepared, online, online_batches,
                            seconds=args.ingest_seconds, database_url=ctx.database_url)
            figures.update({f"hot_{k}": v for k, v in hot["figures"].items()})
            tallies += [*hot["tallies"], hot["online"]]
            errors += hot["errors"]
        api = _top_up_throughput(base, counter_tokens, campus_card_nos,
                                 seconds=args.ingest_top_up_seconds)
        worked_s = api.tally.sent_records / 1000
        figures.update({
            "api_top_ups": api.tally.accepted, "api_top_up_threads": TOP_UP_API_THREADS,
            "api_top_ups_per_s": round(api.tally.accepted / worked_s, 1) if worked_s else 0.0,
            "api_top_up_p50_ms": ms(quantile(api.tally.latencies, 0.5)),
            "api_top_up_p99_ms": ms(quantile(api.tally.latencies, 0.99)),
        })
        errors += api.tally.errors
        figures["single_idle_p50_ms"] = ms(quantile(idle.latencies, 0.5))
        figures["single_idle_p99_ms"] = ms(quantile(idle.latencies, 0.99))
        figures["required_ratio"] = 1.0
        sent = sum(t.sent_records for t in tallies)
        amount = sum(t.amount for t in tallies)
        figures["errors"] = len(errors)
        if errors:
            ctx.notes.append(f"ingest: {len(errors)} errors, first: {errors[0]}")
        if measured["ran_dry"]:
            ctx.notes.append(f"ingest: terminals ran out of prepared batches: "
                             f"{measured['ran_dry']} (raise --ingest-batches)")
        figures.update(_verify(sent, amount, terms, setup["cards"],
                               topped_up=top_ups.tally.amount + api.tally.amount))
        if not figures["ledger_check_ok"] or not figures["all_sent_accepted"]:
            ctx.notes.append(f"ingest: ledger_check {figures['ledger_breaches']}, "
                             f"sent {sent}, accepted {figures['records_stored_accepted']}")
        if not figures["cards_and_purses_agree"]:
            ctx.notes.append("ingest: the cards, the purses and the pending top-ups disagree")
        if args.ingest_sim_seconds:
            figures.update(_simulated_fleet(base, args.ingest_sim_seconds))
            if not figures["sim_balances_match"]:
                ctx.notes.append("ingest: the simulated fleet's balances do not match")
        fill = _blacklist_fill(args.blacklist_cards)
        if not args.ingest_no_analyze:
            _analyze()
        figures["blacklist_fill_s"] = round(fill["fill_s"], 2)
        figures.update(_blacklist_times(base, online, fill["version"],
                                        requests_n=args.blacklist_requests, full_n=5))

    profiled = _profile(setup, chains, size=size, batches=args.ingest_profile_batches,
                        cprofile=args.profile)
    figures.update(profiled["figures"])
    figures["setup_cards_s"] = round(setup["cards_s"], 2)
    figures["setup_loads_s"] = round(setup["loads_s"], 2)
    figures["prepare_s"] = round(prepare_s, 2)
    figures["setup_total_s"] = round(time.perf_counter() - t0, 2)
    _print_profile(profiled)
    return figures


# The issue's table: (label, figure, unit, required, goal); ratios are to pgbench's tps,
# latencies are p99 in ms (lower is better).
TABLE: list[tuple[str, str, str, float | None, float]] = [
    ("ingest, campus fleet", "records_per_s", "x", 2.0, 3.0),
    ("ingest, hot fleet", "hot_records_per_s", "x", 1.0, 2.0),
    ("live sale during the campus fleet, p99", "single_p99_ms", "ms", 50.0, 20.0),
    ("live sale during the hot fleet, p99", "hot_single_p99_ms", "ms", 100.0, 50.0),
    ("top-up during the campus fleet, p99", "top_up_p99_ms", "ms", 50.0, 20.0),
    ("top-up through the API, throughput", "api_top_ups_per_s", "x", None, 0.5),
]


def table_lines(figures: dict[str, Any], tps: float | None) -> list[str]:
    """The six figures beside what is required and the goal (issue 13)."""
    lines = ["-- ingest and the counter under load (p99; rates as a multiple of pgbench "
             f"TPC-B: {tps:,.0f} tps)" if tps else "-- ingest and the counter under load "
             "(no pgbench in this run: rates as measured)"]
    for label, key, unit, required, goal in TABLE:
        value = figures.get(key)
        if value is None:
            lines.append(f"   {label:<42} not measured")
            continue
        if unit == "x":
            if not tps:
                lines.append(f"   {label:<42} {value:,.0f}/s")
                continue
            ratio = value / tps
            shown = f"{value:,.0f}/s = {ratio:.2f}x"
            meets_req = required is None or ratio >= required
            meets_goal = ratio >= goal
        else:
            shown = f"{value:,.1f} ms (p50 {figures.get(key.replace('p99', 'p50'), 0):,.1f})"
            meets_req = required is None or value <= required
            meets_goal = value <= goal
        req = "report it" if required is None else f"{required:g}{unit}"
        verdict = "goal met" if meets_goal else "required met" if meets_req else "REQUIRED MISSED"
        lines.append(f"   {label:<42} {shown:<28} required {req:<10} goal {goal:g}{unit}: "
                     f"{verdict}")
    return lines


def _print_profile(profiled: dict[str, Any]) -> None:
    lines = ["", "-- ingest: ms per batch by phase (in-process, exclusive)"]
    total = sum(profiled["phases_ms"].values())
    for name, phase_ms in profiled["phases_ms"].items():
        lines.append(f"   {name:<20} {phase_ms:8.2f} ms  {100 * phase_ms / total:5.1f} %")
    lines.append(f"   {'total':<20} {total:8.2f} ms")
    lines.append("-- ingest: the queries of one batch of records (ms, SQL)")
    lines += [f"   {t:7.2f}  {sql}" for t, sql in profiled["queries"]]
    lines.append("-- ingest: the statements of one single-record upload, in-process (ms, SQL)")
    lines += [f"   {t:7.2f}  {sql}" for t, sql in profiled["single_queries"]]
    lines.append("-- ingest: the statements of one blacklist delta request (ms, SQL)")
    lines += [f"   {t:7.2f}  {sql}" for t, sql in profiled["delta_queries"]]
    text = "\n".join(lines) + "\n"
    if profiled["profile_text"]:
        text += f"-- ingest: cProfile of records_ingest, {CPROFILE_BATCHES} batches\n"
        text += profiled["profile_text"]
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "ingest-profile.txt").write_text(text)
    print(text)
