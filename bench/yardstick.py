"""The yardstick: pgbench TPC-B on the same PostgreSQL, and database creation helpers."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

# PostgreSQL 14+ prints "without initial connection time"; older ones
# "excluding connections establishing".
_TPS = re.compile(
    r"^tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)",
    re.MULTILINE,
)
_LATENCY = re.compile(r"^latency average = ([0-9.]+) ms", re.MULTILINE)


def _admin_url(server_url: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))


def ensure_database(server_url: str, name: str) -> bool:
    """Create database `name` if it is missing; True when it was created."""
    with psycopg.connect(_admin_url(server_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def pgbench_path() -> str:
    found = shutil.which("pgbench") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)), None)
    if not found:
        raise SystemExit("pgbench not found in PATH or /usr/lib/postgresql/*/bin/")
    return found


def _connection_args(server_url: str) -> tuple[list[str], dict[str, str]]:
    parts = urlsplit(server_url)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
            "-U", parts.username or "postgres"]
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = parts.password
    return args, env


def parse_tps(output: str) -> float:
    match = _TPS.search(output)
    if not match:
        raise ValueError(f"no tps line in pgbench output:\n{output}")
    return float(match.group(1))


def pgbench_tpcb(server_url: str, database: str, *, clients: int, jobs: int, seconds: int,
                 scale: int) -> dict[str, Any]:
    """`pgbench -i -s SCALE` then `pgbench -c CLIENTS -j JOBS -T SECONDS -n` (TPC-B-like)."""
    ensure_database(server_url, database)
    exe = pgbench_path()
    conn_args, env = _connection_args(server_url)
    subprocess.run([exe, "-i", "-q", "-s", str(scale), *conn_args, database], env=env,
                   check=True, capture_output=True, text=True)
    run = subprocess.run(
        [exe, "-c", str(clients), "-j", str(jobs), "-T", str(seconds), "-n", *conn_args,
         database],
        env=env, check=True, capture_output=True, text=True,
    )
    latency = _LATENCY.search(run.stdout)
    return {
        "tps": parse_tps(run.stdout),
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "clients": clients, "jobs": jobs, "seconds": seconds, "scale": scale,
        "pgbench": exe,
    }
