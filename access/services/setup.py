"""Areas, doors, schedules and holidays: the security office's set-up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from access import selectors
from access.errors import CodeInUse, HolidayExists, UnknownArea, UnknownGroup, UnknownSchedule
from access.models import (
    AccessGroup,
    Area,
    ControllerGrant,
    ControllerListVersion,
    Door,
    Schedule,
    ScheduleWindow,
)
from access.services.lists import Affected, lists_refresh
from accounts.audit import audit_record
from core.calendar import holiday_changed
from core.errors import InvalidRequest
from core.models import Holiday
from terminals.models import Terminal, TerminalKind


def _area_by_code(code: str | None) -> Area | None:
    if code is None:
        return None
    area = Area.objects.filter(code=code).first()
    if area is None:
        raise UnknownArea(_("No area %(c)s; nothing was changed.") % {"c": code}, field="area")
    return area


def schedule_by_code(code: str | None, field: str = "schedule") -> Schedule | None:
    if code is None:
        return None
    schedule = Schedule.objects.filter(code=code).first()
    if schedule is None:
        raise UnknownSchedule(_("No schedule %(c)s; nothing was changed.") % {"c": code},
                              field=field)
    return schedule


def group_by_code(code: str | None, field: str) -> AccessGroup | None:
    if code is None:
        return None
    group = AccessGroup.objects.filter(code=code).first()
    if group is None:
        raise UnknownGroup(_("No access group %(c)s; nothing was changed.") % {"c": code},
                           field=field)
    return group


def _door_controllers(doors: Any) -> set[int]:
    return set(doors.values_list("controller_id", flat=True))


# --- Doors -------------------------------------------------------------------------------


def doors_register(*, controller: Terminal) -> list[Door]:
    """A door controller's doors `<terminal_id>-1..N` and its list version row (called
    when the controller is registered; the registration is audited there)."""
    if controller.kind != TerminalKind.DOOR:
        return []
    doors = [Door(id=f"{controller.terminal_id}-{n}", controller=controller, number=n,
                  name=f"{controller.name} {n}") for n in range(1, controller.doors + 1)]
    Door.objects.bulk_create(doors, ignore_conflicts=True)
    ControllerListVersion.objects.get_or_create(controller=controller)
    return doors


DOOR_UPDATABLE = ("name", "area", "direction", "unlock_schedule", "first_card_group")


def _door_snapshot(door: Door) -> dict[str, Any]:
    return {"name": door.name, "area": door.area.code if door.area else None,
            "direction": door.direction,
            "unlock_schedule": door.unlock_schedule.code if door.unlock_schedule else None,
            "first_card_group": door.first_card_group.code if door.first_card_group else None}


@transaction.atomic
def door_update(*, door: Door, by: Any, channel: str = "api", **changes: Any) -> Door:
    """Rename a door, put it in an area, mark it entry or exit, give it unlocked hours and
    a first-card group; the controller's next list carries the settings."""
    unknown = set(changes) - set(DOOR_UPDATABLE)
    if unknown:
        raise InvalidRequest(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    door = Door.objects.select_for_update(of=("self",)).select_related(
        "area", "unlock_schedule", "first_card_group").get(pk=door.pk)
    before = _door_snapshot(door)
    if "name" in changes:
        door.name = changes["name"]
    if "area" in changes:
        door.area = _area_by_code(changes["area"])
    if "direction" in changes:
        door.direction = changes["direction"]
    if "unlock_schedule" in changes:
        door.unlock_schedule = schedule_by_code(changes["unlock_schedule"], "unlock_schedule")
    if "first_card_group" in changes:
        door.first_card_group = group_by_code(changes["first_card_group"], "first_card_group")
    door.save()
    after = _door_snapshot(door)
    if after != before:
        if {k: v for k, v in after.items() if k != "name"} != \
                {k: v for k, v in before.items() if k != "name"}:
            lists_refresh(Affected(controllers={door.controller_id}))
        audit_record(action="access.door.update", actor=by, subject=door, subject_id=door.id,
                     before=before, after=after, channel=channel)
    return door


# --- Areas -------------------------------------------------------------------------------


@transaction.atomic
def area_create(*, code: str, name: str, antipassback: str = "off", by: Any,
                channel: str = "api") -> Area:
    try:
        with transaction.atomic():
            area = Area.objects.create(code=code, name=name, antipassback=antipassback)
    except IntegrityError as exc:
        raise CodeInUse(_("An area %(c)s already exists.") % {"c": code}) from exc
    audit_record(action="access.area.create", actor=by, subject=area, subject_id=code,
                 after={"code": code, "name": name, "antipassback": antipassback},
                 channel=channel)
    return area


@transaction.atomic
def area_update(*, area: Area, by: Any, name: str | None = None,
                antipassback: str | None = None, channel: str = "api") -> Area:
    area = Area.objects.select_for_update().get(pk=area.pk)
    before = {"name": area.name, "antipassback": area.antipassback}
    area.name = name if name is not None else area.name
    area.antipassback = antipassback if antipassback is not None else area.antipassback
    area.save()
    after = {"name": area.name, "antipassback": area.antipassback}
    if after != before:
        if before["antipassback"] != after["antipassback"]:
            lists_refresh(Affected(controllers=_door_controllers(area.doors.all())))
        audit_record(action="access.area.update", actor=by, subject=area, subject_id=area.code,
                     before=before, after=after, channel=channel)
    return area


# --- Schedules and holidays ----------------------------------------------------------------


@dataclass(frozen=True)
class WindowSpec:
    """days: ISO weekdays (1 = Monday); `end` at or before `start` crosses midnight."""

    days: Sequence[int]
    start: dt.time
    end: dt.time


def _windows_check(windows: Sequence[WindowSpec]) -> None:
    if not windows:
        raise InvalidRequest(_("A schedule has at least one window."), field="windows")
    for w in windows:
        if not w.days or any(d not in range(1, 8) for d in w.days):
            raise InvalidRequest(_("days are ISO weekdays, 1 (Monday) to 7 (Sunday)."),
                                 field="windows")


def _windows_write(schedule: Schedule, windows: Sequence[WindowSpec]) -> None:
    ScheduleWindow.objects.filter(schedule=schedule).delete()
    ScheduleWindow.objects.bulk_create([
        ScheduleWindow(schedule=schedule, days=ScheduleWindow.days_mask(list(w.days)),
                       start=w.start.replace(second=0, microsecond=0),
                       end=w.end.replace(second=0, microsecond=0)) for w in windows])


def _windows_json(windows: Sequence[WindowSpec]) -> list[dict[str, Any]]:
    return [{"days": sorted(set(w.days)), "from": w.start.strftime("%H:%M"),
             "to": w.end.strftime("%H:%M")} for w in windows]


@transaction.atomic
def schedule_create(*, code: str, name: str, windows: Sequence[WindowSpec],
                    holidays: str = "closed", by: Any, channel: str = "api") -> Schedule:
    _windows_check(windows)
    if code.startswith("combo-"):
        raise InvalidRequest(_("Codes starting combo- are the server's own."), field="code")
    try:
        with transaction.atomic():
            schedule = Schedule.objects.create(code=code, name=name, holidays=holidays)
    except IntegrityError as exc:
        raise CodeInUse(_("A schedule %(c)s already exists.") % {"c": code}) from exc
    _windows_write(schedule, windows)
    audit_record(action="access.schedule.create", actor=by, subject=schedule, subject_id=code,
                 after={"code": code, "name": name, "holidays": holidays,
                        "windows": _windows_json(windows)}, channel=channel)
    return schedule


@transaction.atomic
def schedule_update(*, schedule: Schedule, by: Any, name: str | None = None,
                    windows: Sequence[WindowSpec] | None = None, holidays: str | None = None,
                    channel: str = "api") -> Schedule:
    """New windows or holiday rule: every list that uses the schedule is told (its
    holders' combined schedules change with it)."""
    schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
    before = {"name": schedule.name, "holidays": schedule.holidays,
              "windows": [w for w in selectors.schedules_published([schedule.code]).get(
                  schedule.code, [])]}
    if name is not None:
        schedule.name = name
    if holidays is not None:
        schedule.holidays = holidays
    schedule.save()
    if windows is not None:
        _windows_check(windows)
        _windows_write(schedule, windows)
    after = {"name": schedule.name, "holidays": schedule.holidays,
             "windows": selectors.schedules_published([schedule.code]).get(schedule.code, [])}
    if after != before:
        if (after["windows"], after["holidays"]) != (before["windows"], before["holidays"]):
            lists_refresh(_schedule_affects(schedule))
        audit_record(action="access.schedule.update", actor=by, subject=schedule,
                     subject_id=schedule.code, before=before, after=after, channel=channel)
    return schedule


def _schedule_affects(schedule: Schedule) -> Affected:
    groups = set(AccessGroup.objects.filter(schedule=schedule).values_list("id", flat=True))
    controllers = set(ControllerGrant.objects.filter(schedule=schedule.code)
                      .values_list("controller_id", flat=True).distinct())
    controllers |= _door_controllers(Door.objects.filter(unlock_schedule=schedule))
    return Affected(holders=selectors.holders_of_groups(groups), controllers=controllers)


def _holidays_affect() -> Affected:
    """Every controller with a grant or unlocked hours decides by the holidays."""
    controllers = set(ControllerGrant.objects.values_list("controller_id", flat=True).distinct())
    controllers |= _door_controllers(Door.objects.filter(unlock_schedule__isnull=False))
    return Affected(controllers=controllers)


@transaction.atomic
def holiday_create(*, date: dt.date, name: str, by: Any, channel: str = "api") -> Holiday:
    try:
        with transaction.atomic():
            holiday = Holiday.objects.create(date=date, name=name)
    except IntegrityError as exc:
        raise HolidayExists(_("%(d)s is already a holiday.") % {"d": date.isoformat()}) from exc
    lists_refresh(_holidays_affect())
    holiday_changed.send(sender=Holiday, date=date, action="create")
    audit_record(action="access.holiday.create", actor=by, subject=holiday,
                 subject_id=date.isoformat(), after={"date": date.isoformat(), "name": name},
                 channel=channel)
    return holiday


@transaction.atomic
def holiday_delete(*, holiday: Holiday, by: Any, channel: str = "api") -> None:
    before = {"date": holiday.date.isoformat(), "name": holiday.name}
    holiday.delete()
    lists_refresh(_holidays_affect())
    holiday_changed.send(sender=Holiday, date=dt.date.fromisoformat(before["date"]),
                         action="delete")
    audit_record(action="access.holiday.delete", actor=by, subject_type="holiday",
                 subject_id=before["date"], before=before, channel=channel)
