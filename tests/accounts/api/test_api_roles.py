"""Who may call what: every staff endpoint against every role, read from the one role
matrix (core.permissions.ROLE_MATRIX) that the permission classes also read."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import resolve

from accounts.models import Card
from core.permissions import ROLE_MATRIX, Area, role_may
from core.roles import Role
from tests.accounts.api.conftest import client_for, code_of
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

CARD = "/api/v1/cards/{card_no}"

# (method, path, body): every staff endpoint of the operations API.
STAFF_ENDPOINTS: list[tuple[str, str, Any]] = [
    ("get", "/api/v1/cardholders", None),
    ("post", "/api/v1/cardholders", {"number": "S9", "name": "N", "kind": "staff"}),
    ("get", "/api/v1/cardholders/S2026001", None),
    ("patch", "/api/v1/cardholders/S2026001", {"phone": "123"}),
    ("post", "/api/v1/cardholders/import", "csv"),
    ("post", "/api/v1/cardholders/S2026001/password", {"password": "long-enough-pw"}),
    ("get", "/api/v1/cards", None),
    ("post", "/api/v1/cards", {"cardholder": "S2026001", "uid": "04ffee01"}),
    ("get", CARD, None),
    ("get", CARD + "/personalization", None),
    ("get", CARD + "/transactions", None),
    ("post", CARD + "/top-up", {"amount": 100, "method": "cash"}),
    ("post", CARD + "/report-loss", {}),
    ("post", CARD + "/unlock", {}),
    ("post", CARD + "/freeze", {"reason": "r"}),
    ("post", CARD + "/unfreeze", {"reason": "r"}),
    ("post", CARD + "/replace", {"uid": "04ffee01"}),
    ("post", CARD + "/cancel", {"refund_method": "cash"}),
    ("get", "/api/v1/subsidies", None),
    ("post", "/api/v1/subsidies", {"name": "n", "purse": "main",
                                   "entries": [{"cardholder": "S2026001", "amount": 1}]}),
    ("get", "/api/v1/merchants", None),
    ("post", "/api/v1/merchants", {"code": "M1", "name": "M", "fee_rate_bp": 0}),
    ("get", "/api/v1/terminals", None),
    ("post", "/api/v1/terminals/POS-9999/disable", {"reason": "r"}),
    ("post", "/api/v1/terminals/POS-9999/rotate-secret", {}),
    ("patch", "/api/v1/terminals/POS-9999/config", {"params": {}}),
    ("get", "/api/v1/exceptions", None),
    ("get", "/api/v1/cash/shifts", None),
    ("post", "/api/v1/purchases/POS-9999/1/refund", {"amount": 1, "reason": "r"}),
    ("post", "/api/v1/exceptions/999999/resolve", {"action": "none", "note": "n"}),
    ("post", "/api/v1/bank/transfers", {"bank_ref": "B20261101-000001", "cardholder": "S2026001",
                                        "amount": 100, "ts": "2026-11-01T09:30:00+08:00"}),
    ("post", "/api/v1/bank/statements", "csv"),
    ("get", "/api/v1/access/doors", None),
    ("patch", "/api/v1/access/doors/DOOR-9999-1", {"name": "n"}),
    ("post", "/api/v1/access/schedules", {"code": "s", "name": "S", "windows": [
        {"days": [1], "from": "08:00", "to": "09:00"}]}),
    ("post", "/api/v1/access/groups/lab-a/members", {"add": [], "remove": []}),
    ("post", "/api/v1/access/lockdowns", {"area": "nope", "mode": "locked"}),
    ("get", "/api/v1/access/events", None),
    ("get", "/api/v1/access/alarms", None),
    ("post", "/api/v1/access/alarms/999999/acknowledge", {"note": "n"}),
    ("get", "/api/v1/access/presence", None),
    ("get", "/api/v1/access/report", None),
    ("get", "/api/v1/attendance/shifts", None),
    ("post", "/api/v1/attendance/shifts", {"code": "x", "name": "x", "start": "08:00",
                                           "end": "09:00"}),
    ("put", "/api/v1/attendance/rosters", {"entries": []}),
    ("post", "/api/v1/attendance/leave", {}),
    ("get", "/api/v1/attendance/results", None),
    ("get", "/api/v1/attendance/report", None),
    ("get", "/api/v1/attendance/corrections", None),
    ("post", "/api/v1/attendance/corrections", {}),
    ("post", "/api/v1/attendance/corrections/999999/approve", {}),
    ("post", "/api/v1/attendance/months/2026-11/close", {"department": "NOPE"}),
    ("get", "/api/v1/attendance/exceptions", None),
    ("post", "/api/v1/attendance/exceptions/999999/resolve", {"apply": False}),
]
PORTAL_ENDPOINTS: list[tuple[str, str, Any]] = [
    ("get", "/api/v1/me", None),
    ("get", "/api/v1/me/cards", None),
    ("get", "/api/v1/me/cards/{card_no}", None),
    ("get", "/api/v1/me/cards/{card_no}/transactions", None),
    ("post", "/api/v1/me/cards/{card_no}/report-loss", {}),
]


def call(client: Any, method: str, path: str, body: Any, card: Card) -> Any:
    path = path.format(card_no=card.card_no)
    if body == "csv":
        upload = SimpleUploadedFile("h.csv", b"number,name,kind\nS8,N,staff\n")
        return client.post(path, {"file": upload}, format="multipart")
    return getattr(client, method)(path, body)


def area_of(path: str, card: Card) -> Area:
    return resolve(path.format(card_no=card.card_no)).func.view_class.area  # type: ignore[attr-defined]


def test_every_area_has_a_row_in_the_matrix_and_every_endpoint_an_area(card: Card) -> None:
    assert set(ROLE_MATRIX) == set(Area)
    assert {area_of(path, card) for _m, path, _b in STAFF_ENDPOINTS} == set(Area)


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize(("method", "path", "body"), STAFF_ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _b in STAFF_ENDPOINTS])
def test_each_role_may_call_exactly_what_the_matrix_allows(
        purse_key: Any, card: Card, role: str, method: str, path: str, body: Any) -> None:
    client = client_for(StaffFactory(role=role))

    response = call(client, method, path, body, card)

    if role_may(role, area_of(path, card), method):
        assert response.status_code not in (401, 403), response.content
    else:
        assert response.status_code == 403, response.content
        assert code_of(response) == "forbidden"


def test_the_matrix_reads_as_the_contract_says(card: Card) -> None:
    def may(role: str, method: str, path: str) -> bool:
        return role_may(role, area_of(path, card), method)

    assert may(Role.CARD_OFFICE, "post", CARD + "/top-up")
    assert may(Role.ADMIN, "post", CARD + "/cancel")
    assert may(Role.AUDITOR, "get", CARD + "/transactions")
    assert not may(Role.AUDITOR, "post", CARD + "/report-loss")
    assert not may(Role.AUDITOR, "get", CARD + "/personalization")
    assert may(Role.FINANCE, "post", "/api/v1/subsidies")
    assert not may(Role.FINANCE, "post", CARD + "/top-up")
    assert may(Role.FINANCE, "post", "/api/v1/merchants")
    assert not may(Role.CARD_OFFICE, "post", "/api/v1/merchants")
    assert may(Role.BANK, "post", "/api/v1/bank/transfers")
    assert not may(Role.BANK, "post", "/api/v1/bank/statements")
    assert may(Role.FINANCE, "post", "/api/v1/bank/statements")
    assert not may(Role.FINANCE, "post", "/api/v1/bank/transfers")
    assert not any(may(Role.BANK, m, p) for m, p, _b in STAFF_ENDPOINTS
                   if p != "/api/v1/bank/transfers")
    access = [(m, p) for m, p, _b in STAFF_ENDPOINTS if p.startswith("/api/v1/access/")]
    assert all(may(Role.SECURITY, m, p) for m, p in access)
    assert not any(may(Role.SECURITY, m, p) for m, p, _b in STAFF_ENDPOINTS
                   if (m, p) not in access)
    attendance = [(m, p) for m, p, _b in STAFF_ENDPOINTS if p.startswith("/api/v1/attendance/")]
    assert all(may(Role.HR, m, p) for m, p in attendance)
    assert not any(may(Role.HR, m, p) for m, p, _b in STAFF_ENDPOINTS
                   if (m, p) not in attendance)


def test_a_user_without_any_role_is_refused_everywhere(card: Card) -> None:
    client = client_for(StaffFactory())

    for method, path, body in STAFF_ENDPOINTS:
        assert call(client, method, path, body, card).status_code == 403, path


@pytest.mark.parametrize(("method", "path", "body"), STAFF_ENDPOINTS + PORTAL_ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _b in STAFF_ENDPOINTS + PORTAL_ENDPOINTS])
def test_without_credentials_every_endpoint_answers_not_authenticated(
        card: Card, method: str, path: str, body: Any) -> None:
    response = call(client_for(), method, path, body, card)

    assert response.status_code == 401
    assert code_of(response) == "not_authenticated"


def test_a_bad_token_answers_authentication_failed(card: Card) -> None:
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get("/api/v1/cards")

    assert response.status_code == 401
    assert code_of(response) == "authentication_failed"


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize(("method", "path", "body"), PORTAL_ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _b in PORTAL_ENDPOINTS])
def test_no_staff_role_opens_the_portal(card: Card, role: str, method: str, path: str,
                                        body: Any) -> None:
    response = call(client_for(StaffFactory(role=role)), method, path, body, card)

    assert response.status_code == 403


@pytest.mark.parametrize(("method", "path", "body"), STAFF_ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _b in STAFF_ENDPOINTS])
def test_a_cardholder_token_opens_no_staff_endpoint(holder_client: Any, card: Card, method: str,
                                                    path: str, body: Any) -> None:
    assert call(holder_client, method, path, body, card).status_code == 403


def test_an_unknown_api_address_answers_json_404(desk: Any) -> None:
    response = desk.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert code_of(response) == "not_found"
