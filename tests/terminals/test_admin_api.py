"""An administrator looks after the terminal fleet through the operations API."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from terminals.services import terminal_register
from tests.factories import StaffFactory
from tests.terminals.protocol import SignedTerminal

pytestmark = pytest.mark.django_db


def staff_client(role: str) -> APIClient:
    user = StaffFactory(role=role)
    api = APIClient()
    token = Token.objects.create(user=user)  # type: ignore[misc]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


@pytest.fixture
def pos(clerk):
    return terminal_register(kind="pos", name="Canteen 2, window 3", by=clerk, merchant_code="C2")


def test_admin_disables_a_terminal_and_it_is_refused_until_enabled(client, pos) -> None:
    terminal, secret = pos
    admin = staff_client("admin")
    device = SignedTerminal(client, terminal.terminal_id, secret)
    assert device.get("/api/v1/terminal/config").status_code == 200

    answer = admin.post(f"/api/v1/terminals/{terminal.terminal_id}/disable",
                        {"reason": "stolen"}, format="json")
    assert answer.status_code == 200 and answer.json()["status"] == "disabled"
    refused = device.get("/api/v1/terminal/config")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "terminal_disabled"

    admin.post(f"/api/v1/terminals/{terminal.terminal_id}/enable", {"reason": "found"},
               format="json")
    assert device.get("/api/v1/terminal/config").status_code == 200


def test_a_rotated_secret_replaces_the_old_one_at_once(client, pos) -> None:
    terminal, old = pos
    answer = staff_client("admin").post(f"/api/v1/terminals/{terminal.terminal_id}/rotate-secret")
    new = answer.json()["secret"]

    assert len(new) == 64 and new != old
    stale = SignedTerminal(client, terminal.terminal_id, old).get("/api/v1/terminal/config")
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "bad_signature"
    fresh = SignedTerminal(client, terminal.terminal_id, new).get("/api/v1/terminal/config")
    assert fresh.status_code == 200


def test_new_parameters_raise_the_config_version_the_terminal_sees(client, pos) -> None:
    terminal, secret = pos
    params = {"mode": "menu", "menu": [{"key": 1, "name": "Rice", "amount": 150}],
              "max_amount": 5000, "collect_loads": True}
    answer = staff_client("admin").patch(f"/api/v1/terminals/{terminal.terminal_id}/config",
                                         {"params": params}, format="json")
    assert answer.status_code == 200, answer.content

    config = SignedTerminal(client, terminal.terminal_id, secret).get(
        "/api/v1/terminal/config").json()
    assert config["config_version"] == 2
    assert config["params"]["mode"] == "menu" and config["params"]["collect_loads"] is True
    assert config["merchant"]["code"] == "C2"


def test_bad_parameters_are_refused_and_change_nothing(pos) -> None:
    terminal, _secret = pos
    admin = staff_client("admin")
    answer = admin.patch(f"/api/v1/terminals/{terminal.terminal_id}/config",
                         {"params": {"mode": "barter"}}, format="json")
    assert answer.status_code == 400
    terminal.refresh_from_db()
    assert terminal.config_version == 1


def test_the_fleet_list_shows_each_terminal_and_whether_it_is_online(client, pos) -> None:
    terminal, secret = pos
    admin = staff_client("admin")
    assert admin.get("/api/v1/terminals").json()[0]["status"] == "offline"
    SignedTerminal(client, terminal.terminal_id, secret).post(
        "/api/v1/terminal/heartbeat",
        {"ts": 0, "blacklist_version": 0, "access_list_version": 0, "config_version": 1,
         "last_seq": 0, "queued_records": 3, "faults": [{"code": "printer_paper_out",
                                                          "message": "no paper"}]})
    row = admin.get("/api/v1/terminals?kind=pos").json()[0]
    assert row["status"] == "online" and row["queued_records"] == 3
    assert row["faults"][0]["code"] == "printer_paper_out"
    assert admin.get("/api/v1/terminals?status=offline").json() == []


@pytest.mark.parametrize("role, reads, writes", [
    ("admin", 200, 200), ("auditor", 200, 403), ("card_office", 403, 403), ("finance", 403, 403),
])
def test_only_admins_manage_terminals(pos, role: str, reads: int, writes: int) -> None:
    terminal, _secret = pos
    api = staff_client(role)
    assert api.get("/api/v1/terminals").status_code == reads
    assert api.post(f"/api/v1/terminals/{terminal.terminal_id}/disable", {"reason": "x"},
                    format="json").status_code == writes
