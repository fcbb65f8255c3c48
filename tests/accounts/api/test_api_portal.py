"""A cardholder at home: logs in, sees their own cards, reports one lost."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from accounts import services
from accounts.models import AuditEvent, Card, Cardholder, CardStatus
from tests.accounts.api.conftest import HOLDER_PASSWORD, client_for, code_of
from tests.factories import make_card, make_cardholder

pytestmark = pytest.mark.django_db


@pytest.fixture
def neighbours_card(clerk: Any) -> Card:
    return make_card(by=clerk, cardholder=make_cardholder(by=clerk, number="S2026002",
                                                          password="other-pw-2026"))


def test_a_holder_logs_in_with_number_and_password_and_gets_a_token(holder: Cardholder,
                                                                    card: Card) -> None:
    response = client_for().post("/api/v1/me/login", {"number": "S2026001",
                                                      "password": HOLDER_PASSWORD})

    assert response.status_code == 200, response.json()
    portal = client_for()
    portal.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert portal.get("/api/v1/me").json()["number"] == "S2026001"


@pytest.mark.parametrize("credentials", [
    {"number": "S2026001", "password": "wrong-password"},
    {"number": "NOBODY", "password": HOLDER_PASSWORD},
    {"number": "clerk-li", "password": "pw-staff-123"},
])
def test_wrong_credentials_answer_invalid_credentials(holder: Cardholder,
                                                      credentials: dict[str, str]) -> None:
    response = client_for().post("/api/v1/me/login", credentials)

    assert response.status_code == 401
    assert code_of(response) == "invalid_credentials"


def test_a_holder_may_use_http_basic_with_their_number(holder: Cardholder, card: Card) -> None:
    portal = client_for()
    secret = base64.b64encode(f"S2026001:{HOLDER_PASSWORD}".encode()).decode()
    portal.credentials(HTTP_AUTHORIZATION=f"Basic {secret}")

    response = portal.get("/api/v1/me/cards")

    assert response.status_code == 200
    assert [c["card_no"] for c in response.json()] == [card.card_no]


def test_basic_with_a_wrong_password_answers_401(holder: Cardholder) -> None:
    portal = client_for()
    portal.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"S2026001:nope").decode())

    response = portal.get("/api/v1/me")

    assert response.status_code == 401
    assert code_of(response) == "authentication_failed"


def test_a_holder_sees_their_profile_their_cards_and_one_card(holder_client: Any, clerk: Any,
                                                              card: Card) -> None:
    services.card_top_up(card=card, amount=1200, method="online", by=clerk)

    me = holder_client.get("/api/v1/me").json()
    cards = holder_client.get("/api/v1/me/cards").json()
    one = holder_client.get(f"/api/v1/me/cards/{card.card_no}").json()

    assert (me["number"], me["name"]) == ("S2026001", "Zhang San")
    assert [c["card_no"] for c in cards] == [card.card_no]
    assert one["balances"]["main"] == {"account": 1200, "card": 0, "pending": 1200}


def test_a_holder_reads_their_card_history_without_the_ledger_internals(
        holder_client: Any, clerk: Any, card: Card) -> None:
    services.card_top_up(card=card, amount=1200, method="online", by=clerk)

    response = holder_client.get(f"/api/v1/me/cards/{card.card_no}/transactions")

    assert response.status_code == 200
    newest = response.json()["results"][0]
    assert (newest["kind"], newest["amounts"]) == ("top_up", {"main": 1200, "subsidy": 0})
    assert "entries" not in newest
    # Not on a terminal yet: no records (test_api_card_history.py lists them).
    assert (response.json()["records_count"], response.json()["records"]) == (0, [])


def test_a_holder_reports_their_card_lost_through_the_portal(holder_client: Any, holder: Any,
                                                             card: Card) -> None:
    response = holder_client.post(f"/api/v1/me/cards/{card.card_no}/report-loss", {})

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "lost"
    card.refresh_from_db()
    assert card.status == CardStatus.LOST
    event = AuditEvent.objects.get(action="card.report_loss", subject_id=card.card_no)
    assert (event.channel, event.actor) == ("portal", holder.user)


@pytest.mark.parametrize(("method", "suffix"), [
    ("get", ""), ("get", "/transactions"), ("post", "/report-loss"),
])
def test_another_holders_card_answers_404(holder_client: Any, card: Card, neighbours_card: Card,
                                          method: str, suffix: str) -> None:
    response = getattr(holder_client, method)(
        f"/api/v1/me/cards/{neighbours_card.card_no}{suffix}")

    assert response.status_code == 404
    assert code_of(response) == "not_found"
    neighbours_card.refresh_from_db()
    assert neighbours_card.status == CardStatus.ACTIVE


def test_a_holder_may_not_call_the_card_office(holder_client: Any, card: Card) -> None:
    assert holder_client.get(f"/api/v1/cards/{card.card_no}").status_code == 403
    assert holder_client.post(f"/api/v1/cards/{card.card_no}/report-loss", {}).status_code == 403


def test_staff_may_not_use_the_portal(desk: Any, card: Card) -> None:
    response = desk.get("/api/v1/me/cards")

    assert response.status_code == 403
    assert code_of(response) == "forbidden"
