"""Access groups: doors under a schedule, and who is in them (by name or org unit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from access import selectors
from access.errors import CodeInUse, UnknownDoors, UnknownOrgUnits
from access.models import AccessGroup, AccessGroupMember, AccessGroupOrgUnit, Door
from access.services.lists import Affected, lists_refresh
from access.services.setup import schedule_by_code
from accounts.audit import audit_record
from accounts.errors import UnknownCardholders
from accounts.models import Cardholder, OrgUnit
from accounts.selectors import cardholders_by_number, org_units_by_code


def doors_by_id(door_ids: Sequence[str], field: str = "doors") -> list[Door]:
    """The doors named, all of them, or UnknownDoors listing those that are not."""
    found = {d.id: d for d in Door.objects.filter(id__in=set(door_ids))}
    missing = sorted(set(door_ids) - set(found))
    if missing:
        raise UnknownDoors(_("Unknown doors: %(d)s; nothing was changed.")
                           % {"d": ", ".join(missing)}, doors=missing, field=field)
    return [found[d] for d in dict.fromkeys(door_ids)]


def _holders_by_number(numbers: Sequence[str]) -> dict[str, Cardholder]:
    found = cardholders_by_number(numbers)
    missing = sorted(set(numbers) - set(found))
    if missing:
        raise UnknownCardholders(_("Unknown cardholders: %(n)s; nothing was changed.")
                                 % {"n": ", ".join(missing)}, cardholders=missing)
    return found


def _units_by_code(codes: Sequence[str]) -> dict[str, OrgUnit]:
    found = org_units_by_code(codes)
    missing = sorted(set(codes) - set(found))
    if missing:
        raise UnknownOrgUnits(_("Unknown org units: %(u)s; nothing was changed.")
                              % {"u": ", ".join(missing)}, org_units=missing)
    return found


def _group_snapshot(group: AccessGroup) -> dict[str, Any]:
    return {"name": group.name, "schedule": group.schedule.code,
            "doors": sorted(group.doors.values_list("id", flat=True))}


@transaction.atomic
def group_create(*, code: str, name: str, schedule: str, doors: Sequence[str] = (), by: Any,
                 channel: str = "api") -> AccessGroup:
    """A group of doors under a schedule; unknown doors or schedule refuse it whole."""
    found_schedule = schedule_by_code(schedule)
    assert found_schedule is not None
    found_doors = doors_by_id(doors)
    try:
        with transaction.atomic():
            group = AccessGroup.objects.create(code=code, name=name, schedule=found_schedule)
    except IntegrityError as exc:
        raise CodeInUse(_("An access group %(c)s already exists.") % {"c": code}) from exc
    group.doors.set(found_doors)
    audit_record(action="access.group.create", actor=by, subject=group, subject_id=code,
                 after={"code": code, **_group_snapshot(group)}, channel=channel)
    return group


@transaction.atomic
def group_update(*, group: AccessGroup, by: Any, name: str | None = None,
                 schedule: str | None = None, doors: Sequence[str] | None = None,
                 channel: str = "api") -> AccessGroup:
    """Change the group's name, schedule or doors (the whole new set); its members'
    grants change on the controllers of the old and the new doors."""
    group = AccessGroup.objects.select_for_update().select_related("schedule").get(pk=group.pk)
    before = _group_snapshot(group)
    found_schedule = schedule_by_code(schedule) if schedule is not None else None
    found_doors = doors_by_id(doors) if doors is not None else None
    if name is not None:
        group.name = name
    if found_schedule is not None:
        group.schedule = found_schedule
    group.save()
    if found_doors is not None:
        group.doors.set(found_doors)
    after = _group_snapshot(group)
    if after != before:
        if (after["schedule"], after["doors"]) != (before["schedule"], before["doors"]):
            lists_refresh(Affected(holders=selectors.holders_of_groups([group.pk])))
        audit_record(action="access.group.update", actor=by, subject=group,
                     subject_id=group.code, before=before, after=after, channel=channel)
    return group


@transaction.atomic
def group_members_change(*, group: AccessGroup, add: Sequence[str] = (),
                         remove: Sequence[str] = (), by: Any,
                         channel: str = "api") -> dict[str, list[str]]:
    """Add and remove members by cardholder number; an unknown number refuses the whole
    change, listing them. Answers the numbers actually added and removed."""
    group = AccessGroup.objects.select_for_update().get(pk=group.pk)
    holders = _holders_by_number([*add, *remove])
    present = set(AccessGroupMember.objects.filter(group=group).values_list(
        "cardholder__number", flat=True))
    removing = sorted((set(remove) & present) - set(add))
    adding = sorted(set(add) - present)
    AccessGroupMember.objects.filter(group=group, cardholder__number__in=removing).delete()
    AccessGroupMember.objects.bulk_create(
        [AccessGroupMember(group=group, cardholder=holders[n]) for n in adding])
    changed = {holders[n].pk for n in [*adding, *removing]}
    if changed:
        lists_refresh(Affected(holders=changed, groups={group.pk}))
    result = {"added": adding, "removed": removing}
    audit_record(action="access.group.members", actor=by, subject=group, subject_id=group.code,
                 after=result, channel=channel)
    return result


@transaction.atomic
def group_org_units_change(*, group: AccessGroup, add: Sequence[str] = (),
                           remove: Sequence[str] = (), by: Any,
                           channel: str = "api") -> dict[str, list[str]]:
    """Bulk membership: every holder of these org units (and the units below them)."""
    group = AccessGroup.objects.select_for_update().get(pk=group.pk)
    units = _units_by_code([*add, *remove])
    present = set(AccessGroupOrgUnit.objects.filter(group=group).values_list(
        "org_unit__code", flat=True))
    removing = sorted((set(remove) & present) - set(add))
    adding = sorted(set(add) - present)
    before = selectors.holders_of_groups([group.pk])
    AccessGroupOrgUnit.objects.filter(group=group, org_unit__code__in=removing).delete()
    AccessGroupOrgUnit.objects.bulk_create(
        [AccessGroupOrgUnit(group=group, org_unit=units[c]) for c in adding])
    after = selectors.holders_of_groups([group.pk])
    changed = before ^ after
    if changed:
        lists_refresh(Affected(holders=changed, groups={group.pk}))
    result = {"added": adding, "removed": removing}
    audit_record(action="access.group.org_units", actor=by, subject=group,
                 subject_id=group.code, after=result, channel=channel)
    return result
