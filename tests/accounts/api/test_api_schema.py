"""The OpenAPI schema and the browsable docs are served, and name the contract's paths."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.accounts.api.conftest import client_for

pytestmark = pytest.mark.django_db

CONTRACT_PATHS = [
    "/api/v1/cardholders", "/api/v1/cardholders/{number}", "/api/v1/cards",
    "/api/v1/cards/{card_no}", "/api/v1/cards/{card_no}/personalization",
    "/api/v1/cards/{card_no}/transactions", "/api/v1/cards/{card_no}/top-up",
    "/api/v1/cards/{card_no}/report-loss", "/api/v1/cards/{card_no}/unlock",
    "/api/v1/cards/{card_no}/freeze", "/api/v1/cards/{card_no}/unfreeze",
    "/api/v1/cards/{card_no}/replace", "/api/v1/cards/{card_no}/cancel", "/api/v1/subsidies",
    "/api/v1/merchants", "/api/v1/me/cards", "/api/v1/me/cards/{card_no}/transactions",
    "/api/v1/me/cards/{card_no}/report-loss",
]


def test_the_schema_is_served_and_lists_the_contract_paths() -> None:
    response = client_for().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(CONTRACT_PATHS) <= set(paths)
    top_up = paths["/api/v1/cards/{card_no}/top-up"]["post"]
    assert {"201", "400", "401", "403", "404", "409", "422"} <= set(top_up["responses"])
    assert "invalid_amount" in top_up["responses"]["400"]["description"]
    assert any(p["name"] == "Idempotency-Key" for p in top_up["parameters"])


def test_the_schema_generates_without_warnings(tmp_path: object) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file",
                 str(tmp_path) + "/schema.yaml")


def test_the_docs_page_is_served() -> None:
    response = client_for().get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
