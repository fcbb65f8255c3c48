"""Database helpers for the few set-based statements on hot paths."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection

log = logging.getLogger(__name__)
_NICE_MISSING_LOGGED = False


@contextmanager
def bulk_cursor() -> Iterator[Any]:
    """A psycopg cursor with server-side binding on Django's connection (PostgreSQL).

    Django's default client-side cursor quotes every array element into the SQL text
    in Python; sent as bound parameters (`%b`: binary format), a batch's arrays cost
    next to nothing. The
    cursor runs inside Django's current transaction; statements sent through it are
    not in Django's query log."""
    connection.ensure_connection()
    # Django's wrapper turns psycopg errors into django.db errors (IntegrityError, ...).
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cur:
        yield cur


def backend_nice_set(sender: Any, **kwargs: Any) -> None:
    """On a new PostgreSQL connection of a process with `DB_BACKEND_NICE` set, lower its
    backend's CPU priority to that nice value (the `prioritize` extension's
    `set_backend_priority`, which lets a role only lower its own backends' priority).
    The bulk upload pool runs this way beside the live pools on one machine: the
    live sale's and the top-up's queries then go first when backlogs keep every core
    busy, as the pool's own workers do on SCHED_IDLE (README, production). Without the extension the
    connection works as before and the first miss is logged. Not through PgBouncer:
    there a backend serves many clients."""
    nice, new = settings.DB_BACKEND_NICE, kwargs["connection"]
    if not nice or new.vendor != "postgresql":
        return
    global _NICE_MISSING_LOGGED
    try:
        with new.cursor() as cur:
            # autocommit here (Django's new connection): a failure leaves no transaction.
            cur.execute("SELECT set_backend_priority(pg_backend_pid(), %s)", [int(nice)])
    except Exception as exc:
        if not _NICE_MISSING_LOGGED:
            _NICE_MISSING_LOGGED = True
            log.warning("DB_BACKEND_NICE=%s not applied (the prioritize extension?): %s",
                        nice, exc)
