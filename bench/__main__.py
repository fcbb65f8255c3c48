"""`python -m bench` (`make bench`): run the OneCard benchmarks and the pgbench yardstick.

Each benchmark is a Section: a function that takes the run's Context and returns a dict
of figures. A section may name one figure (`rate`) to compare with the yardstick's
transactions per second, and the goal for that ratio. The yardstick (pgbench TPC-B) runs
in the same invocation, so the ratio says how the code does on this machine, not how fast
the machine is. Figures are printed as a table and written to bench/out/latest.json.

To add a benchmark (terminal ingest, reconciliation, ...): write `bench/<name>.py` with a
`run(ctx) -> dict` and append a Section to `SECTIONS`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench import access, attendance, ingest, reconcile, serial, topups, yardstick

OUT_DIR = Path(__file__).resolve().parent / "out"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
BENCH_DB = "onecard_bench"
PGBENCH_DB = "onecard_pgbench"

Figures = dict[str, Any]


@dataclass
class Context:
    """What every section gets: the parsed options and where the databases are."""

    args: argparse.Namespace
    server_url: str  # postgres://user@host:port, no database
    database_url: str  # the benchmark database Django uses
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    name: str
    run: Callable[[Context], Figures]
    rate: str | None = None  # the figure divided by the yardstick's tps
    goal: float | None = None  # the ratio to reach
    required: float | None = None  # the ratio below which the section fails


SECTIONS: list[Section] = [
    Section("top-ups", topups.run, rate="top_ups_per_s", goal=0.5),
    Section("ingest", ingest.run, rate="records_per_s", goal=2.0, required=1.0),
    Section("reconcile", reconcile.run),
    Section("serial-gateway", serial.run),  # its yardstick is the line, not pgbench
    Section("access", access.run),  # starts from empty tables; its goals are times
    Section("attendance", attendance.run),  # starts from empty tables; its goals are times
]


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def setup_django(ctx: Context) -> None:
    """Point Django at the benchmark database, migrate it, and start from empty tables."""
    yardstick.ensure_database(ctx.server_url, BENCH_DB)
    os.environ["DATABASE_URL"] = ctx.database_url
    os.environ["DEBUG"] = "0"  # DEBUG keeps every query in memory
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onecard.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    from django.db import DatabaseError, connection

    try:  # the bulk pool's DB_BACKEND_NICE needs it (scripts/install-system-deps.sh)
        with connection.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS prioritize")
    except DatabaseError as exc:
        print(f"note: no prioritize extension, the bulk pool's backends keep nice 0: {exc}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--server", default=os.environ.get("BENCH_SERVER_URL", DEFAULT_SERVER),
                   help="PostgreSQL server URL without a database (default %(default)s)")
    p.add_argument("--only", action="append", default=[], metavar="SECTION",
                   help="run only this section (repeatable)")
    p.add_argument("--threads", type=int, default=8, help="top-up threads (default 8)")
    p.add_argument("--seconds", type=float, default=10.0,
                   help="how long the top-up threads run (default 10)")
    p.add_argument("--per-thread", type=int, default=None,
                   help="a fixed count of top-ups per thread instead of --seconds")
    p.add_argument("--cards", type=int, default=200, help="cards to spread top-ups over")
    p.add_argument("--profile", action="store_true",
                   help="also profile single-threaded top-ups and in-process ingest batches "
                        "with cProfile and print the top")
    p.add_argument("--ingest-seconds", type=float, default=15.0,
                   help="how long the ingest terminals upload (default 15)")
    p.add_argument("--ingest-cards", type=int, default=3000,
                   help="cards of the campus fleet, each sale at a random till (default 3000)")
    p.add_argument("--ingest-hot-cards", type=int, default=500,
                   help="cards of the hot fleet, in every batch of every till (default 500; "
                        "0: no hot fleet)")
    p.add_argument("--ingest-one-pool", action="store_true",
                   help="one gunicorn pool for everything, no nginx (the comparison to the "
                        "README's deployment: nginx and three pools)")
    p.add_argument("--ingest-bulk-nice", type=int, default=10,
                   help="CPU niceness of the bulk pool's database backends (DB_BACKEND_NICE) "
                        "and, with --ingest-bulk-policy nice, of its workers (default 10)")
    p.add_argument("--ingest-bulk-policy", choices=["idle", "nice"], default="idle",
                   help="the bulk pool's workers on SCHED_IDLE (chrt --idle 0, as the README "
                        "runs them; default) or at --ingest-bulk-nice")
    p.add_argument("--ingest-top-up-seconds", type=float, default=5.0,
                   help="how long clerks top up through the API for its throughput "
                        "(default 5)")
    p.add_argument("--ingest-terminals", type=int, default=10,
                   help="POS terminals uploading batches at once (default 10)")
    p.add_argument("--ingest-batch", type=int, default=500,
                   help="records per upload (default 500)")
    p.add_argument("--ingest-batches", type=int, default=None,
                   help="batches prepared per terminal (default: enough for the seconds)")
    p.add_argument("--ingest-workers", type=int, default=4, help="gunicorn workers (default 4)")
    p.add_argument("--ingest-conn-max-age", type=int, default=0,
                   help="unused: the server keeps its connections as settings say "
                        "(DB_CONN_MAX_AGE, 60 s unless set in the environment)")
    p.add_argument("--ingest-cards-mode", choices=["shared", "own"], default="shared",
                   help="shared: every terminal sells to every card (default); own: each "
                        "terminal has its own share of the cards")
    p.add_argument("--ingest-gunicorn-args", default="",
                   help="more gunicorn options, e.g. '--worker-class gthread --threads 4'")
    p.add_argument("--ingest-gate", type=int, default=0,
                   help="experiment: at most N large uploads at once per gunicorn worker "
                        "(use with threaded workers); 0 = off, the product as it is")
    p.add_argument("--ingest-no-analyze", action="store_true",
                   help="skip ANALYZE after the ingest set-up (shows the plans a database "
                        "without statistics gets)")
    p.add_argument("--ingest-idle-singles", type=int, default=200,
                   help="single-record uploads timed on the idle server first (default 200)")
    p.add_argument("--ingest-sim-seconds", type=float, default=10.0,
                   help="the fleet simulator against the same server afterwards (0: skip)")
    p.add_argument("--ingest-profile-batches", type=int, default=10,
                   help="batches timed phase by phase in-process (default 10)")
    p.add_argument("--blacklist-cards", type=int, default=100_000,
                   help="listed cards for the blacklist timings (default 100000)")
    p.add_argument("--blacklist-requests", type=int, default=500,
                   help="delta requests timed (default 500)")
    p.add_argument("--reconcile-records", type=int, default=1_000_000,
                   help="terminal records in the reconciled day (default 1000000)")
    p.add_argument("--reconcile-cards", type=int, default=30_000,
                   help="cards the day's records spread over (default 30000)")
    p.add_argument("--reconcile-terminals", type=int, default=60,
                   help="canteen POS in the reconciled day (default 60)")
    p.add_argument("--reconcile-kiosks", type=int, default=10,
                   help="kiosks taking cash loads in the reconciled day (default 10)")
    p.add_argument("--reconcile-anomalies", type=int, default=20,
                   help="anomalies injected per code (default 20)")
    p.add_argument("--reconcile-seed", type=int, default=5, help="the day's random seed")
    p.add_argument("--serial-readers", type=int, default=16,
                   help="emulated readers on the serial bus (default 16)")
    p.add_argument("--serial-records", type=int, default=60,
                   help="records each reader holds when the gateway starts (default 60)")
    p.add_argument("--serial-baud", type=int, default=19200,
                   help="the modelled line's baud rate (default 19200)")
    p.add_argument("--serial-seed", type=int, default=6, help="the readers' random seed")
    p.add_argument("--access-quick", action="store_true",
                   help="access section small (2000 grants, 20 changes, 4 s of load): < 1 min")
    p.add_argument("--access-grants", type=int, default=50_000,
                   help="grants on the measured door controller (default 50000)")
    p.add_argument("--access-changes", type=int, default=200,
                   help="membership changes whose deltas are timed (default 200)")
    p.add_argument("--access-ingest-cards", type=int, default=1000,
                   help="cards of the ingest load access-check runs under (default 1000)")
    p.add_argument("--access-ingest-seconds", type=float, default=15.0,
                   help="how long the ingest load runs under the checks (default 15)")
    p.add_argument("--access-check-workers", type=int, default=2,
                   help="gunicorn workers of the door checks' own pool (default 2)")
    p.add_argument("--access-bulk-nice", type=int, default=10,
                   help="CPU niceness of the pool that takes the bulk uploads, as the "
                        "README runs it (default 10; 0: the same priority as the checks)")
    p.add_argument("--attendance-staff", type=int, default=5_000,
                   help="staff whose month of results is computed (default 5000)")
    p.add_argument("--attendance-late", type=int, default=1_000,
                   help="punches of the late batch, over 20 days (default 1000)")
    p.add_argument("--attendance-quick", action="store_true",
                   help="300 staff and 100 late punches: under a minute")
    p.add_argument("--pgbench-seconds", type=int, default=15)
    p.add_argument("--pgbench-clients", type=int, default=4)
    p.add_argument("--pgbench-jobs", type=int, default=2)
    p.add_argument("--pgbench-scale", type=int, default=10)
    p.add_argument("--no-pgbench", action="store_true", help="skip the yardstick")
    return p.parse_args(argv)


def print_table(results: dict[str, Figures]) -> None:
    rows = [(section, key, value) for section, figures in results.items()
            for key, value in figures.items()]
    widths = [max(len(str(r[i])) for r in [("section", "figure", "value"), *rows])
              for i in range(2)]
    print()
    print(f"{'section':<{widths[0]}}  {'figure':<{widths[1]}}  value")
    print(f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * 12}")
    for section, key, value in rows:
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{section:<{widths[0]}}  {key:<{widths[1]}}  {shown}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = args.server.rstrip("/")
    ctx = Context(args=args, server_url=server, database_url=database_url(server, BENCH_DB))
    chosen = [s for s in SECTIONS if not args.only or s.name in args.only]
    started = dt.datetime.now(dt.UTC)
    # A fresh KEK for every run: the bench database is flushed, so no stored key outlives
    # it; the ingest section hands it to its server through the environment.
    os.environ["ONECARD_KEK"] = secrets.token_hex(32)
    setup_django(ctx)

    results: dict[str, Figures] = {}
    for section in chosen:
        print(f"== {section.name}", flush=True)
        t0 = time.perf_counter()
        results[section.name] = section.run(ctx)
        results[section.name]["section_wall_s"] = round(time.perf_counter() - t0, 2)

    tps: float | None = None
    if not args.no_pgbench:
        print("== pgbench (yardstick)", flush=True)
        results["pgbench"] = yardstick.pgbench_tpcb(
            ctx.server_url, PGBENCH_DB, clients=args.pgbench_clients, jobs=args.pgbench_jobs,
            seconds=args.pgbench_seconds, scale=args.pgbench_scale)
        tps = results["pgbench"]["tps"]

    verdicts: dict[str, Figures] = {}
    for section in chosen:
        if section.rate is None or tps is None:
            continue
        ratio = results[section.name][section.rate] / tps
        verdicts[section.name] = {"figure": section.rate, "ratio": round(ratio, 3),
                                  "goal": section.goal, "required": section.required,
                                  "meets_goal": section.goal is None or ratio >= section.goal,
                                  "meets_required": section.required is None
                                  or ratio >= section.required}
        results[section.name][f"{section.rate} / pgbench_tps"] = round(ratio, 3)

    print_table(results)
    print()
    if "ingest" in results:
        for line in ingest.table_lines(results["ingest"], tps):
            print(line)
        print()
    for name, v in verdicts.items():
        mark = "meets" if v["meets_goal"] else "BELOW"
        required = "" if v["required"] is None else (
            f"; {'meets' if v['meets_required'] else 'BELOW'} the required {v['required']}")
        print(f"{name}: {v['figure']} ÷ pgbench tps = {v['ratio']:.3f} "
              f"({mark} the goal of {v['goal']}{required})")
    for note in ctx.notes:
        print(f"note: {note}")

    OUT_DIR.mkdir(exist_ok=True)
    report = {
        "started_at": started.isoformat(), "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "options": vars(args), "results": results, "verdicts": verdicts, "notes": ctx.notes,
    }
    out = OUT_DIR / "latest.json"
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
