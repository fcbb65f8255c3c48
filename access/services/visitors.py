"""Visitor and temporary grants: doors at any hour within a period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access.errors import VisitorGrantRevoked
from access.models import VisitorGrant
from access.services.groups import doors_by_id
from access.services.lists import Affected, lists_refresh
from accounts.audit import audit_record
from accounts.errors import UnknownCardholders
from accounts.selectors import cardholders_by_number
from core.errors import InvalidRequest


@transaction.atomic
def visitor_grant_create(*, cardholder: str, doors: Sequence[str], valid_from: dt.datetime,
                         valid_to: dt.datetime, by: Any, note: str = "",
                         channel: str = "api") -> VisitorGrant:
    """The holder may open these doors at any hour from `valid_from` to `valid_to`; the
    lists carry the period, so controllers stop honouring it by themselves."""
    if valid_to <= valid_from:
        raise InvalidRequest(_("to must be later than from."), field="to")
    holder = cardholders_by_number([cardholder]).get(cardholder)
    if holder is None:
        raise UnknownCardholders(_("Unknown cardholders: %(n)s; nothing was changed.")
                                 % {"n": cardholder}, cardholders=[cardholder])
    found = doors_by_id(doors)
    if not found:
        raise InvalidRequest(_("Name at least one door."), field="doors")
    grant = VisitorGrant.objects.create(cardholder=holder, valid_from=valid_from,
                                        valid_to=valid_to, note=note,
                                        created_by=by if getattr(by, "pk", None) else None)
    grant.doors.set(found)
    lists_refresh(Affected(holders={holder.pk}))
    audit_record(action="access.visitor.create", actor=by, subject=grant,
                 subject_id=str(grant.pk),
                 after={"cardholder": cardholder, "doors": [d.id for d in found],
                        "from": valid_from.isoformat(), "to": valid_to.isoformat(),
                        "note": note}, channel=channel)
    return grant


def _revoke(grant: VisitorGrant, now: dt.datetime) -> None:
    grant.revoked_at = now
    grant.save(update_fields=["revoked_at"])


@transaction.atomic
def visitor_grant_revoke(*, grant: VisitorGrant, by: Any, channel: str = "api") -> VisitorGrant:
    grant = VisitorGrant.objects.select_for_update().get(pk=grant.pk)
    if grant.revoked_at is not None:
        raise VisitorGrantRevoked()
    _revoke(grant, timezone.now())
    lists_refresh(Affected(holders={grant.cardholder_id}))
    audit_record(action="access.visitor.revoke", actor=by, subject=grant,
                 subject_id=str(grant.pk), channel=channel)
    return grant


@transaction.atomic
def visitor_grants_lapse(*, now: dt.datetime | None = None, by: Any = "system",
                         channel: str = "job") -> int:
    """Grants past their end leave the lists (controllers already stopped honouring them
    by their period): marked revoked at their end, their cards' lines rewritten."""
    now = now or timezone.now()
    ended = list(VisitorGrant.objects.select_for_update().filter(
        revoked_at__isnull=True, valid_to__lte=now).order_by("id"))
    for grant in ended:
        _revoke(grant, grant.valid_to)
    if ended:
        lists_refresh(Affected(holders={g.cardholder_id for g in ended}))
        audit_record(action="access.visitor.lapse", actor=by, subject_type="visitorgrant",
                     subject_id=",".join(str(g.pk) for g in ended)[:64],
                     after={"grants": [g.pk for g in ended]}, channel=channel)
    return len(ended)
