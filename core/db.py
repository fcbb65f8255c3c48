"""Database helpers for the few set-based statements on hot paths."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection


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
