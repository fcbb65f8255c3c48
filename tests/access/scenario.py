"""Set-up shared by the access tests: door controllers, a security officer, holders with
cards, and times in the server's time zone."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from access import services
from access.services import WindowSpec
from terminals.models import Terminal
from terminals.services import terminal_register
from tests.factories import StaffFactory, make_card, make_cardholder


def officer() -> Any:
    return StaffFactory(username="security-zhao", role="security")


def controller(*, doors: int = 2, name: str = "Lab block") -> Terminal:
    terminal, _secret = terminal_register(kind="door", name=name, doors=doors,
                                          by=StaffFactory(username="admin-qian", role="admin"))
    return terminal


def holder_with_card(number: str | None = None, department: str | None = "CS") -> Any:
    holder = make_cardholder(number=number, department=department)
    return make_card(cardholder=holder)


def hhmm(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def window(days: list[int], start: str, end: str) -> WindowSpec:
    return WindowSpec(days=days, start=hhmm(start), end=hhmm(end))


def office_hours(by: Any, code: str = "office-hours", holidays: str = "closed") -> Any:
    return services.schedule_create(code=code, name="Office hours", holidays=holidays,
                                    windows=[window([1, 2, 3, 4, 5], "07:30", "19:00")], by=by)


def local_ts(text: str) -> int:
    """Epoch seconds of a local date-time "2030-01-07 08:00" (2030-01-07 is a Monday)."""
    moment = dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
    return int(moment.timestamp())
