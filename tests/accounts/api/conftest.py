"""Clients for the operations API: each person at their desk with their own token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Card, Cardholder
from tests.factories import StaffFactory, make_card, make_cardholder

HOLDER_PASSWORD = "portal-pw-2026"



def client_for(user: Any = None) -> APIClient:
    """An API client speaking JSON, with `user`'s token (none: anonymous)."""
    client = APIClient()
    client.default_format = "json"
    if user is not None:
        token, _created = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def code_of(response: Any) -> str:
    return response.json()["error"]["code"]


@pytest.fixture
def desk(clerk: Any) -> APIClient:
    """The card office counter, logged in as clerk Li."""
    return client_for(clerk)


@pytest.fixture
def staff_client() -> Callable[[str], APIClient]:
    """A client for a new staff user holding `role`."""

    def make(role: str) -> APIClient:
        return client_for(StaffFactory(role=role))

    return make


@pytest.fixture
def holder(clerk: Any) -> Cardholder:
    return make_cardholder(by=clerk, number="S2026001", name="Zhang San",
                           password=HOLDER_PASSWORD)


@pytest.fixture
def card(clerk: Any, holder: Cardholder) -> Card:
    return make_card(by=clerk, cardholder=holder, deposit=2000, uid="04a1b2c3")


@pytest.fixture
def holder_client(holder: Cardholder) -> APIClient:
    """Zhang San at home, logged in to the portal."""
    return client_for(holder.user)
