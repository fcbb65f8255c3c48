"""The institution's holiday calendar (core.models.Holiday), read by access schedules and
attendance rosters alike.

`holiday_changed(sender=Holiday, date, action)` is sent inside the transaction that
adds (`create`) or removes (`delete`) a holiday, by whichever app's service does it
(access's, today), so attendance recomputes the day without either importing the
other."""

from __future__ import annotations

import datetime as dt

from django.dispatch import Signal

from core.models import Holiday

holiday_changed = Signal()


def is_holiday(day: dt.date) -> bool:
    return Holiday.objects.filter(date=day).exists()


def holidays_between(first: dt.date, last: dt.date) -> set[dt.date]:
    """The holidays from `first` to `last`, both included."""
    return set(Holiday.objects.filter(date__gte=first, date__lte=last)
               .values_list("date", flat=True))
