"""The desk reports what a card in the holder's hand says (POST /api/v1/cards/{no}/readings):
a card that agrees with the records raises nothing; one that differs gives finance a
`card_reading_mismatch` exception at once, once per difference."""

from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from accounts.services import card_report_loss
from settlement.models import CardReading, ExceptionCode, ReconException
from tests.accounts.api.conftest import client_for, code_of
from tests.factories import StaffFactory, make_card

pytestmark = pytest.mark.django_db

AGREES = {"purpose": "replace", "card_seq": 0, "main": 0, "subsidy": 0, "key_version": 1}


def _url(card) -> str:
    return f"/api/v1/cards/{card.card_no}/readings"


def test_a_card_that_agrees_with_the_records_raises_nothing(clerk, purse_key):
    card = make_card(by=clerk)

    response = client_for(clerk).post(_url(card), AGREES)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["differences"] == {} and body["exception"] is None
    assert body["recorded_card_seq"] == 0 and body["read_by"] == clerk.username
    assert not ReconException.objects.exists()
    assert AuditEvent.objects.filter(action="card.reading", subject_id=card.card_no).exists()


def test_unsent_purchases_on_the_card_open_one_exception_for_finance(clerk, purse_key):
    card = make_card(by=clerk)
    differs = {**AGREES, "card_seq": 2, "main": 0, "subsidy": 300}

    first = client_for(clerk).post(_url(card), differs).json()
    again = client_for(clerk).post(_url(card), differs).json()

    assert first["differences"] == {"card_seq": 2, "subsidy": 300}
    exception = ReconException.objects.get()
    assert exception.code == ExceptionCode.CARD_READING_MISMATCH
    assert exception.card_no == card.card_no and exception.status == "open"
    assert exception.detail["on_card"] == {"card_seq": 2, "main": 0, "subsidy": 300}
    assert first["exception"] == again["exception"] == exception.pk, "read twice, raised once"
    assert CardReading.objects.count() == 2
    listed = client_for(StaffFactory(role="finance")).get(
        "/api/v1/exceptions?code=card_reading_mismatch").json()
    assert [e["id"] for e in listed["results"]] == [exception.pk]


def test_a_lost_card_in_hand_may_still_be_read(clerk, purse_key):
    card = card_report_loss(card=make_card(by=clerk), by=clerk)

    assert client_for(clerk).post(_url(card), AGREES).status_code == 201


@pytest.mark.parametrize(("body", "status", "code"), [
    ({**AGREES, "main": -1}, 400, "invalid_request"),
    ({**AGREES, "purpose": "curiosity"}, 400, "invalid_request"),
    ({**AGREES, "extra": 1}, 400, "invalid_request"),
    ({k: v for k, v in AGREES.items() if k != "card_seq"}, 400, "invalid_request"),
    ({**AGREES, "key_version": 2}, 400, "invalid_request"),
])
def test_bad_readings_are_refused_and_change_nothing(clerk, purse_key, body, status, code):
    card = make_card(by=clerk)

    response = client_for(clerk).post(_url(card), body)

    assert (response.status_code, code_of(response)) == (status, code)
    assert not CardReading.objects.exists() and not ReconException.objects.exists()


def test_a_closed_card_no_longer_has_records_to_compare(clerk, purse_key):
    card = make_card(by=clerk)
    client_for(clerk).post(f"/api/v1/cards/{card.card_no}/cancel", {"refund_method": "cash"})

    response = client_for(clerk).post(_url(card), AGREES)

    assert (response.status_code, code_of(response)) == (409, "invalid_status")
    assert client_for(clerk).post("/api/v1/cards/99999999/readings", AGREES).status_code == 404


def test_only_the_card_office_reports_readings_and_the_auditor_reads_them(clerk, purse_key):
    card = make_card(by=clerk)
    client_for(clerk).post(_url(card), AGREES)

    assert client_for(StaffFactory(role="finance")).post(_url(card), AGREES).status_code == 403
    assert client_for(StaffFactory(role="auditor")).post(_url(card), AGREES).status_code == 403
    listed = client_for(StaffFactory(role="auditor")).get(_url(card))
    assert listed.status_code == 200 and listed.json()["count"] == 1
    assert client_for().get(_url(card)).status_code == 401
