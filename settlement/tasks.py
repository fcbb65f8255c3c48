"""Jobs run by the django-q2 cluster (`python manage.py qcluster`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from settlement.models import MerchantSettlement, ReconciliationRun
from settlement.services import business_day_bounds, reconcile_day
from settlement.settle import settlement_run

NIGHTLY = "onecard-nightly-reconcile"


@dataclass
class DayClosed:
    run: ReconciliationRun
    settled: list[MerchantSettlement]
    settlement_deferred: bool  # the day is not over yet: settle it tomorrow


def close_day(*, day: dt.date, by: Any = None) -> DayClosed:
    """Reconcile a business day, then settle its merchants once the day is over."""
    run = reconcile_day(business_date=day, by=by)
    _start, end = business_day_bounds(day)
    if end > timezone.now():
        return DayClosed(run=run, settled=[], settlement_deferred=True)
    return DayClosed(run=run, settled=settlement_run(business_date=day, by=by, channel="job"),
                     settlement_deferred=False)


def nightly_reconcile() -> str:
    """Reconcile and settle the business day just closed (yesterday, server time zone)."""
    day = timezone.localdate() - dt.timedelta(days=1)
    closed = close_day(day=day)
    return (f"{day}: {closed.run.raised} breaches={len(closed.run.ledger_breaches)} "
            f"settled={len(closed.settled)}")


def next_run_at(now: dt.datetime, at: str) -> dt.datetime:
    """The next local time `at` ("HH:MM") after `now`."""
    hour, minute = (int(x) for x in at.split(":"))
    local = timezone.localtime(now)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return candidate if candidate > local else candidate + dt.timedelta(days=1)


def schedule_nightly(**_kwargs: object) -> None:
    """Make sure the nightly job is scheduled at ONECARD_RECONCILE_AT (run after migrate)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=NIGHTLY,
        defaults={
            "func": "settlement.tasks.nightly_reconcile",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
            "next_run": next_run_at(timezone.now(), settings.ONECARD_RECONCILE_AT),
        },
    )
