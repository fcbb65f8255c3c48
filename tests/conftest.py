"""Shared fixtures. Tests run on PostgreSQL (DATABASE_URL); see the Makefile."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.factories import StaffFactory

TEST_KEK = "5f" * 32
VECTOR_MASTER_KEY = "000102030405060708090a0b0c0d0e0f"


def pytest_report_header(config):
    from django.conf import settings

    return f"database: {settings.DATABASES['default']['ENGINE']}"


@pytest.fixture(autouse=True)
def _onecard_settings(settings):
    settings.ONECARD_KEK = TEST_KEK
    settings.ONECARD_KEK_FILE = ""
    settings.ONECARD_MAX_BALANCE = 1_000_000
    settings.ONECARD_CANCELLATION_FEE = 0
    settings.ONECARD_REFUND_SUBSIDY = True
    settings.LANGUAGE_CODE = "en"
    # Fast hashing: tests create many staff users; security of test passwords is moot.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def on_postgres() -> None:
    assert connection.vendor == "postgresql", "these tests need PostgreSQL (DATABASE_URL)"


@pytest.fixture
def clerk(db):
    return StaffFactory(username="clerk-li", role="card_office")


@pytest.fixture
def finance_user(db):
    return StaffFactory(username="finance-wang", role="finance")


@pytest.fixture
def purse_key(db, clerk):
    from accounts.keys import key_import

    return key_import(purpose="purse", version=1, key_hex=VECTOR_MASTER_KEY, by=clerk)
