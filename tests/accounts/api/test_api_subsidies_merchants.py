"""Finance grants subsidies in batches and registers merchants."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import LoadSource, Merchant, PendingLoad, SubsidyBatch
from tests.accounts.api.conftest import client_for, code_of
from tests.factories import make_card, make_cardholder

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance(finance_user: Any) -> Any:
    return client_for(finance_user)


@pytest.fixture
def two_students(clerk: Any) -> list[str]:
    for number in ("S1", "S2"):
        make_card(by=clerk, cardholder=make_cardholder(by=clerk, number=number))
    return ["S1", "S2"]


NOVEMBER = {"name": "November meal subsidy", "purse": "subsidy",
            "entries": [{"cardholder": "S1", "amount": 20000},
                        {"cardholder": "S2", "amount": 15000}]}


def test_finance_grants_a_subsidy_and_each_card_gets_a_pending_load(
        finance: Any, two_students: list[str]) -> None:
    response = finance.post("/api/v1/subsidies", NOVEMBER)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("name", "purse", "count", "total", "created")} == {
        "name": "November meal subsidy", "purse": "subsidy", "count": 2, "total": 35000,
        "created": True}
    loads = PendingLoad.objects.filter(subsidy_batch_id=body["batch_id"]).order_by("amount")
    assert [(ld.card.cardholder.number, ld.purse, ld.amount, ld.source) for ld in loads] == [
        ("S2", "subsidy", 15000, LoadSource.SUBSIDY), ("S1", "subsidy", 20000, LoadSource.SUBSIDY)]


def test_the_same_batch_again_answers_200_with_the_first_batch(finance: Any,
                                                              two_students: list[str]) -> None:
    first = finance.post("/api/v1/subsidies", NOVEMBER).json()

    again = finance.post("/api/v1/subsidies", NOVEMBER)

    assert again.status_code == 200
    assert again.json() == {**first, "created": False}
    assert SubsidyBatch.objects.count() == 1
    assert PendingLoad.objects.count() == 2


def test_a_batch_naming_unknown_holders_is_refused_and_lists_them(finance: Any,
                                                                  two_students: list[str]) -> None:
    batch = {**NOVEMBER, "entries": [*NOVEMBER["entries"], {"cardholder": "GHOST", "amount": 1},
                                     {"cardholder": "ALSO-GHOST", "amount": 1}]}

    response = finance.post("/api/v1/subsidies", batch)

    assert response.status_code == 400
    assert code_of(response) == "unknown_cardholders"
    assert response.json()["error"]["cardholders"] == ["ALSO-GHOST", "GHOST"]
    assert not PendingLoad.objects.exists()


def test_a_batch_for_a_holder_without_a_card_is_refused(clerk: Any, finance: Any,
                                                        two_students: list[str]) -> None:
    make_cardholder(by=clerk, number="S3")
    batch = {**NOVEMBER, "entries": [{"cardholder": "S3", "amount": 100}]}

    response = finance.post("/api/v1/subsidies", batch)

    assert response.status_code == 400
    assert code_of(response) == "cardholders_without_card"
    assert response.json()["error"]["cardholders"] == ["S3"]


@pytest.mark.parametrize(("entries", "code"), [
    ([{"cardholder": "S1", "amount": 0}], "invalid_amount"),
    ([{"cardholder": "S1", "amount": 10.5}], "invalid_request"),
    ([{"cardholder": "S1", "amount": 100, "note": "x"}], "invalid_request"),
    ([], "invalid_request"),
    ({"cardholder": "S1", "amount": 100}, "invalid_request"),
])
def test_a_bad_entry_refuses_the_whole_batch(finance: Any, two_students: list[str],
                                             entries: Any, code: str) -> None:
    response = finance.post("/api/v1/subsidies", {**NOVEMBER, "entries": entries})

    assert response.status_code == 400
    assert code_of(response) == code
    assert not SubsidyBatch.objects.exists()


def test_the_card_office_lists_the_batches_granted(desk: Any, finance: Any,
                                                   two_students: list[str]) -> None:
    finance.post("/api/v1/subsidies", NOVEMBER)

    response = desk.get("/api/v1/subsidies")

    assert response.status_code == 200
    [batch] = response.json()["results"]
    assert (batch["name"], batch["total"], batch["created_by"]) == (
        "November meal subsidy", 35000, "finance-wang")


def test_finance_registers_a_merchant_and_lists_it(finance: Any) -> None:
    response = finance.post("/api/v1/merchants", {"code": "CANTEEN1", "name": "North canteen",
                                                  "fee_rate_bp": 50})

    assert response.status_code == 201, response.json()
    assert response.json()["fee_rate_bp"] == 50
    assert Merchant.objects.get(code="CANTEEN1").name == "North canteen"
    listed = finance.get("/api/v1/merchants").json()["results"]
    assert [m["code"] for m in listed] == ["CANTEEN1"]


def test_a_merchant_code_is_registered_once(finance: Any) -> None:
    body = {"code": "CANTEEN1", "name": "North canteen", "fee_rate_bp": 50}
    finance.post("/api/v1/merchants", body)

    response = finance.post("/api/v1/merchants", body)

    assert response.status_code == 409


@pytest.mark.parametrize("fee", [-1, 10001, "50", 0.5])
def test_a_fee_rate_outside_0_to_10000_basis_points_is_refused(finance: Any, fee: Any) -> None:
    response = finance.post("/api/v1/merchants", {"code": "C1", "name": "C", "fee_rate_bp": fee})

    assert response.status_code == 400
    assert code_of(response) == "invalid_request"
    assert not Merchant.objects.exists()
