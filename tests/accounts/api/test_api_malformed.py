"""Whatever a broken client sends, the answer is a 4xx with a stable code, and nothing
changes: never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accounts.models import AuditEvent, Card, Cardholder, PendingLoad, Posting
from tests.accounts.api.conftest import code_of

pytestmark = pytest.mark.django_db

GOOD = {"amount": 500, "method": "cash"}

RAW_BODIES: list[tuple[str, str, str]] = [
    # (body as sent, content type, expected code)
    ("amount=500&method=cash", "application/json", "malformed_body"),
    ('{"amount": 500, "method": "cash"', "application/json", "malformed_body"),
    ('{"amount": NaN, "method": "cash"}', "application/json", "malformed_body"),
    ("[1, 2]", "application/json", "invalid_request"),
    ('"top-up"', "application/json", "invalid_request"),
    ("null", "application/json", "invalid_request"),
    ("amount=500&method=cash", "application/x-www-form-urlencoded", "unsupported_media_type"),
    ("<xml/>", "text/xml", "unsupported_media_type"),
]


def nothing_changed() -> None:
    assert not PendingLoad.objects.exists()
    assert not Posting.objects.filter(kind="top_up").exists()
    assert not AuditEvent.objects.filter(action="card.top_up").exists()


@pytest.mark.parametrize(("raw", "content_type", "code"), RAW_BODIES)
def test_a_body_that_is_not_a_json_object_is_refused(desk: Any, card: Card, raw: str,
                                                     content_type: str, code: str) -> None:
    response = desk.generic("POST", f"/api/v1/cards/{card.card_no}/top-up", raw,
                            content_type=content_type)

    assert 400 <= response.status_code < 500
    assert code_of(response) == code
    nothing_changed()


@pytest.mark.parametrize(("change", "code"), [
    ({"amount": "500"}, "invalid_request"),
    ({"amount": 5.5}, "invalid_request"),
    ({"amount": 500.0}, "invalid_request"),
    ({"amount": True}, "invalid_request"),
    ({"amount": None}, "invalid_request"),
    ({"amount": [500]}, "invalid_request"),
    ({"amount": {"fen": 500}}, "invalid_request"),
    ({"amount": 10**30}, "invalid_request"),
    ({"amount": -(10**30)}, "invalid_request"),
    ({"amount": 10**12}, "balance_limit_exceeded"),
    ({"amount": 0}, "invalid_amount"),
    ({"amount": -500}, "invalid_amount"),
    ({"method": "cheque"}, "invalid_request"),
    ({"method": None}, "invalid_request"),
    ({"purse": "pocket"}, "invalid_request"),
    ({"reference": "x" * 129}, "invalid_request"),
    ({"reference": "nul\x00byte"}, "invalid_request"),
    ({"reference": 42}, "invalid_request"),
    ({"surprise": 1}, "invalid_request"),
    ({"card_no": "20260002"}, "invalid_request"),
])
def test_a_top_up_with_a_bad_field_is_refused(desk: Any, card: Card, change: dict[str, Any],
                                              code: str) -> None:
    response = desk.post(f"/api/v1/cards/{card.card_no}/top-up", {**GOOD, **change})

    assert response.status_code == 400, response.content
    assert code_of(response) == code
    nothing_changed()


def test_a_missing_amount_is_named(desk: Any, card: Card) -> None:
    response = desk.post(f"/api/v1/cards/{card.card_no}/top-up", {"method": "cash"})

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["amount"]


def test_an_unknown_field_is_named_rather_than_ignored(desk: Any, card: Card) -> None:
    response = desk.post(f"/api/v1/cards/{card.card_no}/top-up", {**GOOD, "amuont": 500})

    assert response.json()["error"]["fields"] == {"amuont": ["Unknown field."]}


@pytest.mark.parametrize("path", ["report-loss", "unlock"])
def test_an_action_without_a_body_refuses_fields_too(desk: Any, card: Card, path: str) -> None:
    response = desk.post(f"/api/v1/cards/{card.card_no}/{path}", {"force": True})

    assert response.status_code == 400
    assert code_of(response) == "invalid_request"
    card.refresh_from_db()
    assert card.status == "active"


@pytest.mark.parametrize("body", [
    [{"number": "S1", "name": "A", "kind": "student"}],
    {"number": "S1", "name": "A", "kind": "student", "balance": 100},
    {"number": 1234, "name": "A", "kind": "student"},
    {"number": "S1", "name": "A" * 101, "kind": "student"},
    {"number": "S1", "name": "A", "kind": "student", "valid_until": 20300101},
])
def test_a_malformed_registration_registers_nobody(desk: Any, body: Any) -> None:
    response = desk.post("/api/v1/cardholders", body)

    assert response.status_code == 400
    assert code_of(response) == "invalid_request"
    assert not Cardholder.objects.exists()


def test_a_deeply_nested_body_is_refused(desk: Any, card: Card) -> None:
    raw = '{"amount": ' + "[" * 5000 + "]" * 5000 + ', "method": "cash"}'

    response = desk.generic("POST", f"/api/v1/cards/{card.card_no}/top-up", raw,
                            content_type="application/json")

    assert 400 <= response.status_code < 500
    nothing_changed()


def test_a_huge_number_of_digits_is_refused(desk: Any, card: Card) -> None:
    raw = json.dumps(GOOD).replace("500", "9" * 5000)

    response = desk.generic("POST", f"/api/v1/cards/{card.card_no}/top-up", raw,
                            content_type="application/json")

    assert response.status_code == 400
    assert code_of(response) in ("malformed_body", "invalid_request")
    nothing_changed()


def test_a_wrong_method_answers_method_not_allowed(desk: Any, card: Card) -> None:
    response = desk.get(f"/api/v1/cards/{card.card_no}/top-up")

    assert response.status_code == 405
    assert code_of(response) == "method_not_allowed"


@pytest.mark.parametrize("path", ["/api/v1/cardholders/S%00", "/api/v1/cards/2026%000001",
                                  "/api/v1/cards/not-a-number"])
def test_an_address_with_odd_characters_answers_json_404(desk: Any, path: str) -> None:
    response = desk.get(path)

    assert response.status_code == 404
    assert code_of(response) == "not_found"
