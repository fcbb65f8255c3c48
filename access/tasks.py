"""Jobs run by the django-q2 cluster: visitor grants past their end leave the lists, and
the change log keeps ONECARD_ACCESS_LOG_DAYS of history (a controller further behind
gets a full list)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from access.models import AccessListChange, ControllerListVersion
from access.services import visitor_grants_lapse

HOUSEKEEPING = "onecard-access-housekeeping"


def change_log_prune(*, now: dt.datetime | None = None, days: int | None = None) -> int:
    """Delete change-log lines older than `days`; each controller remembers the last
    version pruned, so a `since` before it is answered with the full list."""
    cutoff = (now or timezone.now()) - dt.timedelta(
        days=settings.ONECARD_ACCESS_LOG_DAYS if days is None else days)
    deleted = 0
    old = (AccessListChange.objects.filter(at__lt=cutoff).values("controller_id")
           .annotate(last=Max("version")).order_by("controller_id"))
    for row in old:
        with transaction.atomic():
            version = ControllerListVersion.objects.select_for_update().get(
                controller_id=row["controller_id"])
            version.pruned_through = max(version.pruned_through, row["last"])
            version.save(update_fields=["pruned_through"])
            deleted += AccessListChange.objects.filter(
                controller_id=row["controller_id"], version__lte=row["last"]).delete()[0]
    return deleted


def access_housekeeping() -> str:
    lapsed = visitor_grants_lapse()
    pruned = change_log_prune()
    return f"lapsed={lapsed} pruned={pruned}"


def schedule_housekeeping(**_kwargs: object) -> None:
    """Make sure the hourly housekeeping is scheduled (run after migrate)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=HOUSEKEEPING,
        defaults={"func": "access.tasks.access_housekeeping", "schedule_type": Schedule.HOURLY,
                  "repeats": -1},
    )
