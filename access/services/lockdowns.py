"""Lockdowns: an area locked (everyone denied but an excepted group) or held open."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access.errors import LockdownActive, LockdownEnded
from access.models import Area, Door, Lockdown, LockdownMode
from access.services.lists import Affected, lists_refresh
from access.services.setup import _area_by_code, group_by_code
from accounts.audit import audit_record
from core.errors import InvalidRequest


def _area_controllers(area: Area) -> set[int]:
    return set(Door.objects.filter(area=area).values_list("controller_id", flat=True))


@transaction.atomic
def lockdown_start(*, area: str, mode: str, by: Any, except_group: str | None = None,
                   reason: str = "", channel: str = "api") -> Lockdown:
    found = _area_by_code(area)
    assert found is not None
    group = group_by_code(except_group, "except_group")
    if group is not None and mode != LockdownMode.LOCKED:
        raise InvalidRequest(_("Only a locked area excepts a group."), field="except_group")
    try:
        with transaction.atomic():
            lockdown = Lockdown.objects.create(
                area=found, mode=mode, except_group=group, reason=reason,
                started_at=timezone.now(), started_by=by if getattr(by, "pk", None) else None)
    except IntegrityError as exc:
        raise LockdownActive(_("Area %(a)s already has a lockdown in force; end it first.")
                             % {"a": area}) from exc
    lists_refresh(Affected(controllers=_area_controllers(found)))
    audit_record(action="access.lockdown.start", actor=by, subject=lockdown,
                 subject_id=str(lockdown.pk),
                 after={"area": area, "mode": mode, "except_group": except_group,
                        "reason": reason}, channel=channel)
    return lockdown


@transaction.atomic
def lockdown_end(*, lockdown: Lockdown, by: Any, channel: str = "api") -> Lockdown:
    lockdown = Lockdown.objects.select_for_update().select_related("area").get(pk=lockdown.pk)
    if lockdown.ended_at is not None:
        raise LockdownEnded()
    lockdown.ended_at = timezone.now()
    lockdown.ended_by = by if getattr(by, "pk", None) else None
    lockdown.save(update_fields=["ended_at", "ended_by"])
    lists_refresh(Affected(controllers=_area_controllers(lockdown.area)))
    audit_record(action="access.lockdown.end", actor=by, subject=lockdown,
                 subject_id=str(lockdown.pk), after={"area": lockdown.area.code},
                 channel=channel)
    return lockdown
