"""Jobs run by the django-q2 cluster: visitor grants past their end leave the lists, and
the change log keeps ONECARD_ACCESS_LOG_DAYS of history (a controller further behind
gets a full list)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Subquery, Value, Window
from django.db.models.functions import Coalesce, Lag
from django.utils import timezone

from access.models import AccessListChange, ChangeKind, ControllerListVersion
from access.services import visitor_grants_lapse

HOUSEKEEPING = "onecard-access-housekeeping"


def change_log_prune(*, now: dt.datetime | None = None, days: int | None = None) -> int:
    """Delete change-log lines older than `days`; each controller remembers the last
    version pruned, so a `since` before it is answered with the full list.

    Judging a door record that arrives late needs, for its card, the revocations and what
    ended them (`revoked_card_let_in`), however old: every `revoke` line and the line
    after it are kept. They are at or below `pruned_through`, where deltas never read."""
    cutoff = (now or timezone.now()) - dt.timedelta(
        days=settings.ONECARD_ACCESS_LOG_DAYS if days is None else days)
    deleted = 0
    old = (AccessListChange.objects
           .filter(at__lt=cutoff, version__gt=F("controller__access_list__pruned_through"))
           .values("controller_id").annotate(last=Max("version")).order_by("controller_id"))
    for row in old:
        with transaction.atomic():
            version = ControllerListVersion.objects.select_for_update().get(
                controller_id=row["controller_id"])
            version.pruned_through = max(version.pruned_through, row["last"])
            version.save(update_fields=["pruned_through"])
            deleted += _lines_not_judged_by(row["controller_id"], row["last"])
    return deleted


def _lines_not_judged_by(controller_id: int, through: int) -> int:
    """Delete a controller's lines up to `through` but the revocations and the line after
    each (a line's previous one is read among those still kept: a deleted line is never
    a revoke, so the line after a revoke is always still there to tell)."""
    lines = (AccessListChange.objects.filter(controller_id=controller_id, version__lte=through)
             .order_by())
    # Each line with the kind of the card's line before it, over every line (the window
    # is read before the revokes are set aside, which happens outside it).
    before = Window(Lag("kind"), partition_by=[F("card_no")], order_by=F("version").asc())
    after_no_revoke = (lines.annotate(before=Coalesce(before, Value("")))
                       .exclude(before=ChangeKind.REVOKE).values("pk"))
    return (AccessListChange.objects.filter(pk__in=Subquery(after_no_revoke))
            .exclude(kind=ChangeKind.REVOKE).delete()[0])


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
