"""Jobs run by the django-q2 cluster (`python manage.py qcluster`)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from settlement.services import reconcile_day

NIGHTLY = "onecard-nightly-reconcile"


def nightly_reconcile() -> str:
    """Reconcile the business day just closed (yesterday in the server's time zone)."""
    day = timezone.localdate() - dt.timedelta(days=1)
    run = reconcile_day(business_date=day)
    return f"{day}: {run.raised} breaches={len(run.ledger_breaches)}"


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
