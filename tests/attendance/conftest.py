"""The HR office every attendance scenario starts from: an `hr` officer, and the day
shift most of them roster (08:30-17:30, 5 minutes' grace)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from attendance import services
from tests.factories import StaffFactory


@pytest.fixture
def hr() -> Any:
    return StaffFactory(role="hr")


@pytest.fixture
def day_shift(hr: Any) -> Any:
    return services.shift_create(code="day", name="Day", start=dt.time(8, 30),
                                 end=dt.time(17, 30), grace_minutes=5, by=hr)
