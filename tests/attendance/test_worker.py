"""The real django-q2 worker: a clock's late upload commits, the task it queued runs in
`manage.py qcluster` (its own process, on the test database), and the results are
there without anyone calling the compute by hand."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from attendance import services
from attendance.models import DayResult, PendingDay
from tests.attendance.clock import attendance_clock, local, punch, upload
from tests.conftest import TEST_KEK
from tests.factories import StaffFactory, make_card, make_cardholder

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    s = connection.settings_dict
    return (f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:"
            f"{s['PORT'] or 5432}/{s['NAME']}")


@pytest.mark.django_db(transaction=True)
def test_the_worker_computes_the_days_an_upload_touched(on_postgres: None) -> None:
    hr = StaffFactory(role="hr")
    services.shift_create(code="day", name="Day", start=dt.time(8, 30), end=dt.time(17, 30),
                          by=hr)
    card = make_card(cardholder=make_cardholder(number="Q001", kind="staff"))
    services.roster_put(entries=[{"cardholder": "Q001", "from": dt.date(2026, 11, 2),
                                  "to": dt.date(2026, 11, 6), "weekdays": [1, 2, 3, 4, 5],
                                  "shift": "day"}], by=hr)
    env = {**os.environ, "DATABASE_URL": _database_url(), "ONECARD_KEK": TEST_KEK,
           "DB_CONN_MAX_AGE": "0", "DEBUG": "false"}
    worker = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        clock = attendance_clock()
        upload(clock, punch(clock, card, local("2026-11-03", "08:45")),
               punch(clock, card, local("2026-11-03", "17:40")))
        deadline = time.monotonic() + 90
        row = None
        while time.monotonic() < deadline:
            row = DayResult.objects.filter(cardholder=card.cardholder,
                                           date=dt.date(2026, 11, 3)).first()
            if row is not None and not PendingDay.objects.exists():
                break
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            time.sleep(0.5)
        assert row is not None, "the worker did not compute the day"
        assert (row.status, row.late_minutes) == ("late", 15)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
