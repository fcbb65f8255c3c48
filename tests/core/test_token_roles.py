"""A clerk's token authenticates and brings the clerk's roles in the same query
(core.api.authentication): no separate read of the groups on each request."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import StaffFactory, make_card

pytestmark = pytest.mark.django_db


def client_of(user: Any) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api


def _card_read(client: APIClient, card_no: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(f"/api/v1/cards/{card_no}")
    return answer.status_code, [q["sql"] for q in queries.captured_queries]


def test_a_clerks_roles_come_with_the_token(clerk):
    card = make_card(by=clerk)
    status, sql = _card_read(client_of(clerk), card.card_no)
    assert status == 200
    assert any("authtoken_token" in s and "auth_user_groups" in s for s in sql)
    assert not [s for s in sql if "auth_user_groups" in s and "authtoken_token" not in s]


def test_a_token_of_someone_without_the_role_is_refused(clerk):
    card = make_card(by=clerk)
    nobody = StaffFactory(username="no-role")
    assert _card_read(client_of(nobody), card.card_no)[0] == 403
    guard = StaffFactory(username="guard-zhao", role="security")
    assert _card_read(client_of(guard), card.card_no)[0] == 403


def test_an_unknown_token_or_an_inactive_clerk_is_refused(clerk):
    card = make_card(by=clerk)
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert stranger.get(f"/api/v1/cards/{card.card_no}").status_code == 401
    client = client_of(clerk)
    clerk.is_active = False
    clerk.save(update_fields=["is_active"])
    assert client.get(f"/api/v1/cards/{card.card_no}").status_code == 401
