"""The nightly cycle: the job is scheduled by migrate, and finance can run a day."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_q.models import Schedule
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from settlement.models import ReconciliationRun
from settlement.tasks import NIGHTLY, next_run_at, nightly_reconcile
from tests.factories import StaffFactory
from tests.settlement.test_reconcile import chip, kiosk, pos  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def test_migrate_schedules_the_nightly_reconciliation_at_the_configured_time() -> None:
    job = Schedule.objects.get(name=NIGHTLY)

    assert job.func == "settlement.tasks.nightly_reconcile"
    assert job.schedule_type == Schedule.DAILY
    local = timezone.localtime(job.next_run)
    assert (local.hour, local.minute) == (2, 30)


@pytest.mark.parametrize(("now", "expected"), [
    (dt.datetime(2026, 11, 23, 1, 0, tzinfo=SHANGHAI), dt.datetime(2026, 11, 23, 2, 30)),
    (dt.datetime(2026, 11, 23, 2, 30, tzinfo=SHANGHAI), dt.datetime(2026, 11, 24, 2, 30)),
    (dt.datetime(2026, 11, 23, 23, 0, tzinfo=SHANGHAI), dt.datetime(2026, 11, 24, 2, 30)),
])
def test_the_next_run_is_the_next_0230_local(settings, now, expected) -> None:
    settings.TIME_ZONE = "Asia/Shanghai"
    got = timezone.localtime(next_run_at(now, "02:30"))
    assert got.replace(tzinfo=None) == expected


def test_the_nightly_job_reconciles_yesterday() -> None:
    summary = nightly_reconcile()

    run = ReconciliationRun.objects.get()
    assert run.business_date == timezone.localdate() - dt.timedelta(days=1)
    assert str(run.business_date) in summary


def test_finance_runs_a_day_on_demand_and_sees_the_runs() -> None:
    api = APIClient()
    user = StaffFactory(role="finance")
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")  # type: ignore[misc]

    answer = api.post("/api/v1/reconciliations", {"date": "2026-11-20"}, format="json")

    assert answer.status_code == 201, answer.content
    assert answer.json()["business_date"] == "2026-11-20"
    assert answer.json()["ledger_breaches"] == []
    assert api.get("/api/v1/reconciliations").json()["count"] == 1
    bad = api.post("/api/v1/reconciliations", {"date": "yesterday"}, format="json")
    assert bad.status_code == 400


def test_closing_yesterday_reconciles_and_settles_its_merchants(clerk, chip, pos) -> None:  # noqa: F811
    from django.db.models import F

    from settlement.tasks import close_day
    from terminals.models import TerminalRecord
    from tests.settlement.test_reconcile import accept

    accept(pos, chip.purchase(pos, 1_000))
    TerminalRecord.objects.update(received_at=F("received_at") - dt.timedelta(days=1))
    yesterday = timezone.localdate() - dt.timedelta(days=1)

    closed = close_day(day=yesterday)
    today = close_day(day=timezone.localdate())

    assert [s.gross for s in closed.settled] == [1_000]
    assert today.settlement_deferred and today.settled == []
