"""The bulk upload pool's database backends run at a lower CPU priority
(`DB_BACKEND_NICE`, core.db.backend_nice_set): on a machine whose cores the fleets'
backlogs keep busy, the live sale's and the counter's queries go first."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings

pytestmark = pytest.mark.django_db(transaction=True)


def _os_nice(pid: int) -> int:
    # /proc/<pid>/stat: the 19th field is the nice value (counted after the command).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])


def _backend_pid() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return int(cur.fetchone()[0])


@pytest.fixture
def prioritize() -> None:
    with connection.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS prioritize")


def test_a_bulk_process_connects_with_its_backend_at_the_nice_it_asks(prioritize):
    connection.close()
    with override_settings(DB_BACKEND_NICE=10):
        pid = _backend_pid()  # a new connection
        assert _os_nice(pid) == 10
        with connection.cursor() as cur:
            cur.execute("SELECT get_backend_priority(pg_backend_pid())")
            assert cur.fetchone()[0] == 10
    connection.close()


def test_any_other_process_leaves_its_backends_alone(prioritize):
    connection.close()
    assert _os_nice(_backend_pid()) == 0
    connection.close()


def test_without_the_extension_the_connection_still_works():
    with connection.cursor() as cur:
        cur.execute("DROP EXTENSION IF EXISTS prioritize")
    connection.close()
    with override_settings(DB_BACKEND_NICE=10):
        assert _os_nice(_backend_pid()) == 0
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone()[0] == 1
    connection.close()
