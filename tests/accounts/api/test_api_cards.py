"""Issuing cards, reading them, personalising them and reading their history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from accounts import services
from accounts.crypto import derive_card_key
from accounts.models import AuditEvent, Card, Cardholder, CardStatus
from tests.accounts.api.conftest import client_for, code_of
from tests.conftest import VECTOR_MASTER_KEY
from tests.factories import StaffFactory, make_card, make_cardholder

pytestmark = pytest.mark.django_db


def test_clerk_issues_a_card_with_a_deposit(desk: Any, holder: Cardholder) -> None:
    response = desk.post("/api/v1/cards", {"cardholder": "S2026001", "uid": "04A1B2C3",
                                           "deposit": 2000})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["uid"] == "04a1b2c3"
    assert body["status"] == "active"
    assert body["cardholder"] == "S2026001"
    assert body["deposit"] == 2000
    assert body["key_version"] == 1
    assert body["blacklisted"] is False
    assert Card.objects.get(card_no=body["card_no"]).cardholder == holder


def test_a_second_card_for_the_same_holder_answers_active_card_exists(desk: Any,
                                                                      card: Card) -> None:
    response = desk.post("/api/v1/cards", {"cardholder": "S2026001", "uid": "04ffee01",
                                           "deposit": 0})

    assert response.status_code == 409
    assert code_of(response) == "active_card_exists"
    assert Card.objects.count() == 1


def test_a_uid_already_on_a_card_in_use_answers_uid_in_use(clerk: Any, desk: Any,
                                                           card: Card) -> None:
    make_cardholder(by=clerk, number="S2026002")

    response = desk.post("/api/v1/cards", {"cardholder": "S2026002", "uid": "04a1b2c3"})

    assert response.status_code == 409
    assert code_of(response) == "uid_in_use"


def test_issuing_to_an_unknown_cardholder_answers_unknown_cardholder(desk: Any) -> None:
    response = desk.post("/api/v1/cards", {"cardholder": "NOBODY", "uid": "04a1b2c3"})

    assert response.status_code == 400
    assert code_of(response) == "unknown_cardholder"


@pytest.mark.parametrize(("change", "code"), [
    ({"uid": "xyz"}, "invalid_request"),
    ({"uid": "04a1b2c"}, "invalid_request"),
    ({"deposit": -1}, "invalid_amount"),
    ({"deposit": "2000"}, "invalid_request"),
    ({"deposit_method": "cheque"}, "invalid_request"),
])
def test_a_bad_issue_request_changes_nothing(desk: Any, holder: Cardholder, change: dict[str, Any],
                                             code: str) -> None:
    response = desk.post("/api/v1/cards", {"cardholder": "S2026001", "uid": "04a1b2c3",
                                           "deposit": 0, **change})

    assert response.status_code == 400
    assert code_of(response) == code
    assert not Card.objects.exists()


def test_the_card_reads_exactly_as_the_contract_shows(desk: Any, card: Card,
                                                      clerk: Any) -> None:
    services.card_top_up(card=card, amount=3750, method="cash", by=clerk)

    body = desk.get(f"/api/v1/cards/{card.card_no}").json()

    contract = {"card_no": card.card_no, "uid": "04a1b2c3", "status": "active",
                "cardholder": "S2026001", "blacklisted": False, "card_seq": 0, "deposit": 2000,
                "key_version": 1,
                "balances": {"main": {"account": 3750, "card": 0, "pending": 3750},
                             "subsidy": {"account": 0, "card": 0, "pending": 0}},
                "replaced_by": None, "replaces": None}
    assert {k: body[k] for k in contract} == contract
    assert [(p["purse"], p["amount"]) for p in body["pending_loads"]] == [("main", 3750)]


def test_an_unknown_card_answers_404(desk: Any) -> None:
    response = desk.get("/api/v1/cards/20269999")

    assert response.status_code == 404
    assert code_of(response) == "not_found"


def test_clerk_lists_cards_by_status_holder_and_search(clerk: Any, desk: Any) -> None:
    first = make_card(by=clerk, cardholder=make_cardholder(by=clerk, number="S1"), uid="0badcafe")
    second = make_card(by=clerk, cardholder=make_cardholder(by=clerk, number="S2"))
    services.card_report_loss(card=second, by=clerk)

    def card_nos(query: str) -> list[str]:
        response = desk.get(f"/api/v1/cards{query}")
        assert response.status_code == 200, response.json()
        return [c["card_no"] for c in response.json()["results"]]

    assert card_nos("") == [first.card_no, second.card_no]
    assert card_nos("?status=lost") == [second.card_no]
    assert card_nos("?cardholder=S1") == [first.card_no]
    assert card_nos("?q=BADCAF") == [first.card_no]
    assert card_nos(f"?q={second.card_no}") == [second.card_no]
    assert desk.get("/api/v1/cards?status=melted").status_code == 400


# --- Personalisation ------------------------------------------------------------------------


def test_the_issuing_station_reads_the_card_key_and_the_read_is_audited(
        desk: Any, clerk: Any, purse_key: Any, card: Card) -> None:
    response = desk.get(f"/api/v1/cards/{card.card_no}/personalization")

    assert response.status_code == 200, response.json()
    expected = derive_card_key(bytes.fromhex(VECTOR_MASTER_KEY), card.uid, card.card_no)
    assert response.json() == {"card_no": card.card_no, "uid": "04a1b2c3", "key_version": 1,
                               "card_key": expected.hex()}
    event = AuditEvent.objects.get(action="card.personalization_read", subject_id=card.card_no)
    assert event.actor == clerk
    assert expected.hex() not in str(event.after)


def test_personalisation_without_a_kek_answers_keys_unavailable(desk: Any, purse_key: Any,
                                                                card: Card, settings: Any) -> None:
    settings.ONECARD_KEK = ""

    response = desk.get(f"/api/v1/cards/{card.card_no}/personalization")

    assert response.status_code == 503
    assert code_of(response) == "keys_unavailable"
    assert not AuditEvent.objects.filter(action="card.personalization_read").exists()


def test_personalisation_without_the_master_key_answers_unknown_key_version(desk: Any,
                                                                            card: Card) -> None:
    response = desk.get(f"/api/v1/cards/{card.card_no}/personalization")

    assert response.status_code == 409
    assert code_of(response) == "unknown_key_version"


def test_an_auditor_may_not_read_card_keys(purse_key: Any, card: Card) -> None:
    auditor = client_for(StaffFactory(role="auditor"))

    assert auditor.get(f"/api/v1/cards/{card.card_no}").status_code == 200
    assert auditor.get(f"/api/v1/cards/{card.card_no}/personalization").status_code == 403


# --- History --------------------------------------------------------------------------------


def test_the_card_history_lists_postings_newest_first_with_the_holders_amounts(
        desk: Any, clerk: Any, card: Card) -> None:
    services.card_top_up(card=card, amount=500, method="cash", by=clerk)
    services.card_top_up(card=card, amount=700, purse="subsidy", method="bank", by=clerk,
                         reference="B-1")

    response = desk.get(f"/api/v1/cards/{card.card_no}/transactions")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 3
    # The card has not been on a terminal yet (test_api_card_history.py lists records).
    assert (body["records_count"], body["records"]) == (0, [])
    kinds = [(p["kind"], p["amounts"]) for p in body["results"]]
    assert kinds == [("top_up", {"main": 0, "subsidy": 700}),
                     ("top_up", {"main": 500, "subsidy": 0}),
                     ("deposit", {"main": 0, "subsidy": 0})]
    newest = body["results"][0]
    assert dt.datetime.fromisoformat(newest["at"]).utcoffset() is not None
    assert sorted(e["amount"] for e in newest["entries"]) == [-700, 700]
    assert "B-1" in newest["memo"]


def test_the_card_history_can_be_limited_to_a_period(desk: Any, clerk: Any, card: Card) -> None:
    services.card_top_up(card=card, amount=500, method="cash", by=clerk)
    today = timezone.localdate()
    url = f"/api/v1/cards/{card.card_no}/transactions"

    def count(query: str) -> int:
        response = desk.get(url + query)
        assert response.status_code == 200, response.json()
        return response.json()["count"]

    assert count(f"?from={today}&to={today}") == 2
    assert count(f"?to={today - dt.timedelta(days=1)}") == 0
    assert count(f"?from={today + dt.timedelta(days=1)}") == 0
    now = timezone.localtime().replace(microsecond=0)
    later = (now + dt.timedelta(hours=1)).isoformat().replace("+", "%2B")
    assert count(f"?from={(now - dt.timedelta(hours=1)).isoformat()}&to={later}") == 2


@pytest.mark.parametrize("query", ["?from=yesterday", "?to=2026-02-30",
                                   "?from=2026-03-02&to=2026-03-01"])
def test_a_bad_period_answers_invalid_request(desk: Any, card: Card, query: str) -> None:
    response = desk.get(f"/api/v1/cards/{card.card_no}/transactions{query}")

    assert response.status_code == 400
    assert code_of(response) == "invalid_request"


def test_a_replaced_card_points_to_its_successor_and_back(desk: Any, clerk: Any,
                                                          card: Card) -> None:
    new = services.card_replace(card=card, uid="04ffee01", by=clerk)

    old_body = desk.get(f"/api/v1/cards/{card.card_no}").json()
    new_body = desk.get(f"/api/v1/cards/{new.card_no}").json()

    assert old_body["status"] == CardStatus.REPLACED
    assert old_body["replaced_by"] == new.card_no
    assert new_body["replaces"] == card.card_no
