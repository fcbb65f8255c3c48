"""The list refresh: every access write ends here, in its own transaction.

Given who may have been affected (holders whose grants may have changed, controllers
whose door settings, schedules or holidays changed, groups whose members changed), it
computes the grants the lists should now hold, compares them with the grants published
(`ControllerGrant`), and for each controller with a difference takes the next version
under its row lock (in controller id order), writes the changed grants and one change-log
line per changed card (`grant` or `revoke`; `settings` for the rest). Controllers with
nothing changed keep their version.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from access import selectors
from access.decide import Combiner, PublishedGrant
from access.models import (
    AccessGroup,
    AccessListChange,
    ChangeKind,
    CombinedSchedule,
    ControllerGrant,
    ControllerListVersion,
    Door,
    Lockdown,
    VisitorGrant,
)

# Holders are recomputed in slices, so a group of a whole school costs a few queries per
# slice rather than one enormous IN list.
SLICE = 2000
BATCH = 2000  # rows per INSERT


@dataclass
class Affected:
    holders: set[int] = field(default_factory=set)
    controllers: set[int] = field(default_factory=set)  # their settings changed
    groups: set[int] = field(default_factory=set)  # their membership changed

    def __bool__(self) -> bool:
        return bool(self.holders or self.controllers or self.groups)


Published = tuple[tuple[int, ...], str, int | None, int | None]


def _published(grant: PublishedGrant) -> Published:
    return (grant.doors, grant.schedule, grant.valid_from, grant.valid_to)


def _slices(ids: Collection[int]) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for i in range(0, len(ordered), SLICE):
        yield ordered[i:i + SLICE]


@dataclass
class _Diff:
    upsert: dict[tuple[int, str], tuple[int, Published]] = field(default_factory=dict)
    delete: set[tuple[int, str]] = field(default_factory=set)

    def controllers(self) -> set[int]:
        return {c for c, _card in self.upsert} | {c for c, _card in self.delete}


def _diff(holders: Collection[int], combine: Combiner) -> _Diff:
    diff = _Diff()
    for part in _slices(holders):
        desired = {key: (d.cardholder_id, _published(d.grant))
                   for key, d in selectors.grants_desired(part, combine).items()}
        held = {(c, card): ((tuple(doors), schedule, vf, vt))
                for c, card, doors, schedule, vf, vt in ControllerGrant.objects.filter(
                    cardholder_id__in=part).values_list(
                    "controller_id", "card_no", "doors", "schedule", "valid_from", "valid_to")}
        for key, (holder, grant) in desired.items():
            if held.get(key) != grant:
                diff.upsert[key] = (holder, grant)
        diff.delete |= set(held) - set(desired)
    return diff


def _reach(holders: Collection[int]) -> tuple[set[int], set[int]]:
    """The controllers these holders' grants are on or may come to (their groups' doors,
    their visitor grants' doors), and their groups: read before the locks, to know
    which to take."""
    controllers: set[int] = set()
    groups: set[int] = set()
    for part in _slices(holders):
        for mine in selectors.groups_of_holders(part).values():
            groups |= mine
        controllers |= set(ControllerGrant.objects.filter(cardholder_id__in=part)
                           .values_list("controller_id", flat=True).distinct())
        controllers |= set(VisitorGrant.doors.through.objects.filter(
            visitorgrant__cardholder_id__in=part, visitorgrant__revoked_at__isnull=True)
            .values_list("door__controller_id", flat=True).distinct())
    controllers |= set(AccessGroup.doors.through.objects.filter(accessgroup_id__in=groups)
                       .values_list("door__controller_id", flat=True).distinct())
    return controllers, groups


def _settings_controllers(affected: Affected, groups: set[int]) -> set[int]:
    """Controllers whose doors block names cards of the groups concerned: first-card
    doors, and areas locked with such a group excepted."""
    controllers = set(affected.controllers)
    if not groups:
        return controllers
    controllers |= set(Door.objects.filter(first_card_group_id__in=groups)
                       .values_list("controller_id", flat=True))
    areas = Lockdown.objects.filter(ended_at__isnull=True, except_group_id__in=groups
                                    ).values_list("area_id", flat=True)
    controllers |= set(Door.objects.filter(area_id__in=areas)
                       .values_list("controller_id", flat=True))
    return controllers


def _lock(controllers: Collection[int]) -> dict[int, ControllerListVersion]:
    ControllerListVersion.objects.bulk_create(
        [ControllerListVersion(controller_id=c) for c in sorted(controllers)],
        ignore_conflicts=True)
    return {row.controller_id: row for row in ControllerListVersion.objects.select_for_update()
            .filter(controller_id__in=controllers).order_by("controller_id")}


@transaction.atomic
def lists_refresh(affected: Affected) -> dict[int, int]:
    """Bring the published grants and versions up to date; {controller: new version}
    for each controller that changed."""
    if not affected:
        return {}
    # Which controllers to lock is read first; the grants are computed under the locks,
    # so they see every change committed by a writer that held them before us.
    reach, groups = _reach(affected.holders)
    settings = _settings_controllers(affected, groups | affected.groups)
    locked = _lock(reach | settings)
    combine = Combiner()
    diff = _diff(affected.holders, combine)
    late = diff.controllers() - set(locked)
    if late:  # a concurrent change gave a holder another group meanwhile
        locked.update(_lock(late))
    touched = diff.controllers() | settings
    versions: dict[int, int] = {}
    now = timezone.now()
    for controller in sorted(touched):
        row = locked[controller]
        row.version += 1
        row.updated_at = now  # bulk_update leaves auto_now alone
        versions[controller] = row.version
    ControllerListVersion.objects.bulk_update([locked[c] for c in versions],
                                              ["version", "updated_at"])
    _write_grants(diff, versions, combine)
    lines = [AccessListChange(controller_id=c, version=versions[c], kind=ChangeKind.GRANT,
                              card_no=card) for c, card in diff.upsert]
    lines += [AccessListChange(controller_id=c, version=versions[c], kind=ChangeKind.REVOKE,
                               card_no=card) for c, card in diff.delete]
    lines += [AccessListChange(controller_id=c, version=versions[c], kind=ChangeKind.SETTINGS)
              for c in sorted(settings)]
    AccessListChange.objects.bulk_create(lines, batch_size=BATCH)
    return versions


def _write_grants(diff: _Diff, versions: dict[int, int], combine: Combiner) -> None:
    if combine.made:
        CombinedSchedule.objects.bulk_create(
            [CombinedSchedule(code=code, windows=body) for code, body in combine.made.items()],
            ignore_conflicts=True)
    gone: dict[int, list[str]] = {}
    for controller, card_no in diff.delete:
        gone.setdefault(controller, []).append(card_no)
    for controller, cards in gone.items():
        ControllerGrant.objects.filter(controller_id=controller, card_no__in=cards).delete()
    rows = [ControllerGrant(controller_id=c, card_no=card, cardholder_id=holder,
                            doors=list(grant[0]), schedule=grant[1], valid_from=grant[2],
                            valid_to=grant[3], version=versions[c])
            for (c, card), (holder, grant) in diff.upsert.items()]
    ControllerGrant.objects.bulk_create(
        rows, batch_size=BATCH, update_conflicts=True, unique_fields=["controller", "card_no"],
        update_fields=["cardholder", "doors", "schedule", "valid_from", "valid_to", "version"])


def controller_list_ensure(controller_id: int) -> None:
    ControllerListVersion.objects.get_or_create(controller_id=controller_id)
