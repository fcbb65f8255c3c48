"""Every state-changing POST of the operations API takes an Idempotency-Key (issue 10 §3):
a clerk whose answer was lost sends the same request again and nothing happens twice.

The endpoints come from the OpenAPI schema, so a new POST without the key fails here
unless it is added to NO_KEY with the reason it needs none."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from terminals.services import terminal_register
from tests.factories import StaffFactory

# The POSTs that need no Idempotency-Key, each for a reason a reviewer can check.
NO_KEY = {
    # The terminal protocol: each request is signed with a one-time nonce, and records
    # are idempotent by (terminal, terminal_seq); heartbeats and checks change no books.
    "/api/v1/terminal/records": "terminal protocol",
    "/api/v1/terminal/heartbeat": "terminal protocol",
    "/api/v1/terminal/access-check": "terminal protocol",
    # A sign-in issues a token; repeating it changes nothing.
    "/api/v1/me/login": "sign-in",
    # The answer (a new secret) or the body (a password) must never be kept in clear,
    # as a replayed answer would have to be; repeating either is harmless.
    "/api/v1/terminals/{terminal_id}/rotate-secret": "secret in the answer",
    "/api/v1/cardholders/{number}/password": "secret in the body",
}


def posts() -> dict[str, dict[str, Any]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {path: ops["post"] for path, ops in schema["paths"].items() if "post" in ops}


def test_every_post_documents_the_idempotency_key_or_says_why_not() -> None:
    without = sorted(path for path, op in posts().items()
                     if "Idempotency-Key" not in {p["name"] for p in op.get("parameters", [])})
    assert without == sorted(NO_KEY)


def test_every_exemption_names_a_post_that_exists() -> None:
    assert set(NO_KEY) <= set(posts())


@pytest.mark.django_db
def test_an_administrator_retrying_a_disable_disables_once(clerk: Any) -> None:
    terminal, _secret = terminal_register(kind="pos", name="Canteen 1, till 2", by=clerk,
                                          merchant_code="C1")
    api = APIClient()
    token = Token.objects.create(user=StaffFactory(role="admin"))  # type: ignore[misc]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    path = f"/api/v1/terminals/{terminal.terminal_id}/disable"

    first = api.post(path, {"reason": "stolen"}, format="json", HTTP_IDEMPOTENCY_KEY="dis-1")
    again = api.post(path, {"reason": "stolen"}, format="json", HTTP_IDEMPOTENCY_KEY="dis-1")
    other = api.post(path, {"reason": "lost"}, format="json", HTTP_IDEMPOTENCY_KEY="dis-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert AuditEvent.objects.filter(action__contains="disable",
                                     subject_id=terminal.terminal_id).count() == 1
