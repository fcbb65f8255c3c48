"""Finance finds the night's exceptions in the console, read-only."""

from __future__ import annotations

import datetime as dt

import pytest

from settlement.models import ReconException
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def test_the_console_lists_exceptions_and_changes_nothing(client) -> None:
    ReconException.objects.create(key="clock_skew:x", code="clock_skew",
                                  business_date=dt.date(2026, 11, 22), card_no="20260001")
    client.force_login(StaffFactory(username="root", is_staff=True, is_superuser=True))

    listing = client.get("/admin/settlement/reconexception/?q=20260001")
    adding = client.get("/admin/settlement/reconexception/add/")

    assert listing.status_code == 200 and b"20260001" in listing.content
    assert adding.status_code == 403
