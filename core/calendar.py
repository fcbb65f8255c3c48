"""The institution's holiday calendar (core.models.Holiday), read by access schedules and
attendance rosters alike."""

from __future__ import annotations

import datetime as dt

from core.models import Holiday


def is_holiday(day: dt.date) -> bool:
    return Holiday.objects.filter(date=day).exists()


def holidays_between(first: dt.date, last: dt.date) -> set[dt.date]:
    """The holidays from `first` to `last`, both included."""
    return set(Holiday.objects.filter(date__gte=first, date__lte=last)
               .values_list("date", flat=True))
