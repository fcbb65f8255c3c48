"""Reads of door events and alarms for security: the event list, the alarms, who entered
an area and who is inside it now."""

from __future__ import annotations

import datetime as dt

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils.translation import gettext as _

from access.models import AccessAlarm, AccessEvent, Area, Door, DoorDirection
from accounts.selectors import cardholder_get
from core.errors import NotFound


def area_of_code(code: str) -> Area:
    area = Area.objects.filter(code=code).first()
    if area is None:
        raise NotFound(_("No area has the code %(c)s.") % {"c": code})
    return area


def door_known(door_id: str) -> bool:
    return Door.objects.filter(pk=door_id).exists()


def cardholder_known(number: str) -> bool:
    try:
        cardholder_get(number)
    except NotFound:
        return False
    return True


def _events() -> QuerySet[AccessEvent]:
    return AccessEvent.objects.select_related("door__controller", "area", "cardholder")


def event_list(*, door: str | None = None, cardholder: str | None = None,
               area: str | None = None, granted: bool | None = None,
               flagged: bool | None = None, start: dt.datetime | None = None,
               end: dt.datetime | None = None) -> QuerySet[AccessEvent]:
    """Door events, newest first by the time at the door; `start` inclusive, `end`
    exclusive."""
    qs = _events()
    if door:
        qs = qs.filter(door_id=door)
    if cardholder:
        qs = qs.filter(cardholder__number=cardholder)
    if area:
        qs = qs.filter(area__code=area)
    if granted is not None:
        qs = qs.filter(granted=granted)
    if flagged is not None:
        qs = qs.filter(flagged=flagged)
    if start is not None:
        qs = qs.filter(ts__gte=start)
    if end is not None:
        qs = qs.filter(ts__lt=end)
    return qs.order_by("-ts", "-id")


def alarm_get(alarm_id: int) -> AccessAlarm:
    alarm = AccessAlarm.objects.select_related("controller", "acknowledged_by").filter(
        pk=alarm_id).first()
    if alarm is None:
        raise NotFound(_("No alarm %(id)s.") % {"id": alarm_id})
    return alarm


def alarm_list(*, status: str | None = None, kind: str | None = None,
               controller: str | None = None) -> QuerySet[AccessAlarm]:
    """Alarms, the latest raised first."""
    qs = AccessAlarm.objects.select_related("controller", "acknowledged_by")
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if controller:
        qs = qs.filter(controller__terminal_id=controller)
    return qs.order_by("-raised_at", "-id")


def _entries_filter() -> Q:
    """A granted passage into the area: at an entry door, or at a door with no direction
    (a door of the area that is not marked is taken as a way in)."""
    return Q(granted=True) & (Q(direction=DoorDirection.ENTRY) | Q(direction__isnull=True))


def area_entries(area: Area, start: dt.datetime, end: dt.datetime) -> QuerySet[AccessEvent]:
    """Every entry to the area from `start` (inclusive) to `end` (exclusive), in order."""
    return (_events().filter(_entries_filter(), area=area, ts__gte=start, ts__lt=end)
            .order_by("ts", "id"))


def area_presence(area: Area, at: dt.datetime | None = None) -> QuerySet[AccessEvent]:
    """Who is inside the area (at `at`, by default now): each holder whose last granted
    passage through a door of the area with a direction was an entry, with that entry;
    the longest inside first. Doors without a direction cannot tell, and do not count."""
    passages = AccessEvent.objects.filter(area=area, granted=True, cardholder__isnull=False,
                                          direction__isnull=False)
    if at is not None:
        passages = passages.filter(ts__lte=at)
    last = passages.annotate(nth=Window(RowNumber(), partition_by=[F("cardholder_id")],
                                        order_by=[F("ts").desc(), F("id").desc()]))
    # The direction is tested outside the window's query: inside it, it would pick each
    # holder's last entry rather than their last passage.
    return (_events().filter(pk__in=last.filter(nth=1).values("pk"),
                             direction=DoorDirection.ENTRY)
            .order_by("ts", "id"))
