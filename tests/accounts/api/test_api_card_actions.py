"""The card office's actions on a card: top-up, loss, unlock, freeze, replace, cancel."""

from __future__ import annotations

from typing import Any

import pytest

from accounts import services
from accounts.models import (
    AuditEvent,
    BlacklistVersion,
    Card,
    CardStatus,
    LoadStatus,
    PendingLoad,
    Posting,
)
from accounts.selectors import card_balances, ledger_check
from tests.accounts.api.conftest import code_of
from tests.factories import make_card

pytestmark = pytest.mark.django_db

MAX = 1_000_000


def url(card: Card, action: str) -> str:
    return f"/api/v1/cards/{card.card_no}/{action}"


def test_clerk_tops_up_a_card_and_the_pending_load_appears(desk: Any, clerk: Any,
                                                           card: Card) -> None:
    response = desk.post(url(card, "top-up"), {"amount": 5000, "purse": "main", "method": "cash",
                                               "reference": "counter 1"})

    assert response.status_code == 201, response.json()
    body = response.json()
    load = PendingLoad.objects.get(load_id=body["load_id"])
    assert {k: body[k] for k in ("card_no", "purse", "amount", "method", "reference")} == {
        "card_no": card.card_no, "purse": "main", "amount": 5000, "method": "cash",
        "reference": "counter 1"}
    assert body["balances"]["main"] == {"account": 5000, "card": 0, "pending": 5000}
    assert load.status == LoadStatus.PENDING
    card_body = desk.get(f"/api/v1/cards/{card.card_no}").json()
    assert [p["load_id"] for p in card_body["pending_loads"]] == [body["load_id"]]
    assert AuditEvent.objects.get(action="card.top_up", subject_id=card.card_no).actor == clerk
    assert ledger_check() == []


def test_a_top_up_goes_to_the_main_purse_unless_told_otherwise(desk: Any, card: Card) -> None:
    main = desk.post(url(card, "top-up"), {"amount": 100, "method": "online"})
    subsidy = desk.post(url(card, "top-up"), {"amount": 200, "method": "bank",
                                              "purse": "subsidy"})

    assert (main.json()["purse"], subsidy.json()["purse"]) == ("main", "subsidy")
    assert card_balances(card)["subsidy"]["account"] == 200


@pytest.mark.parametrize("amount", [0, -100])
def test_a_top_up_of_nothing_or_less_answers_invalid_amount(desk: Any, card: Card,
                                                            amount: int) -> None:
    response = desk.post(url(card, "top-up"), {"amount": amount, "method": "cash"})

    assert response.status_code == 400
    assert code_of(response) == "invalid_amount"
    assert not PendingLoad.objects.exists()


def test_a_top_up_above_the_maximum_balance_answers_balance_limit_exceeded(desk: Any,
                                                                          card: Card) -> None:
    desk.post(url(card, "top-up"), {"amount": MAX - 10, "method": "cash"})

    response = desk.post(url(card, "top-up"), {"amount": 11, "method": "cash"})

    assert response.status_code == 400
    assert code_of(response) == "balance_limit_exceeded"
    assert PendingLoad.objects.count() == 1


def test_topping_up_a_cancelled_card_answers_invalid_status(desk: Any, clerk: Any,
                                                            card: Card) -> None:
    services.card_cancel(card=card, refund_method="cash", by=clerk)

    response = desk.post(url(card, "top-up"), {"amount": 100, "method": "cash"})

    assert response.status_code == 409
    assert code_of(response) == "invalid_status"


def test_a_top_up_of_an_unknown_card_answers_404(desk: Any) -> None:
    response = desk.post("/api/v1/cards/20269999/top-up", {"amount": 100, "method": "cash"})

    assert response.status_code == 404
    assert code_of(response) == "not_found"


def test_a_trailing_slash_is_tolerated(desk: Any, card: Card) -> None:
    response = desk.post(url(card, "top-up") + "/", {"amount": 100, "method": "cash"})

    assert response.status_code == 201


def test_clerk_reports_a_card_lost_and_it_goes_on_the_blacklist(desk: Any, clerk: Any,
                                                                card: Card) -> None:
    response = desk.post(url(card, "report-loss"), {})

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "lost"
    assert response.json()["blacklisted"] is True
    assert BlacklistVersion.objects.filter(card=card, action="add").exists()
    assert AuditEvent.objects.get(action="card.report_loss").actor == clerk


def test_a_found_card_is_unlocked_and_unlocking_again_answers_invalid_status(desk: Any,
                                                                            card: Card) -> None:
    desk.post(url(card, "report-loss"), {})

    unlocked = desk.post(url(card, "unlock"), {})
    again = desk.post(url(card, "unlock"), {})

    assert unlocked.status_code == 200
    assert unlocked.json()["status"] == "active"
    assert unlocked.json()["blacklisted"] is False
    assert again.status_code == 409
    assert code_of(again) == "invalid_status"


def test_an_action_with_no_body_at_all_is_an_empty_object(desk: Any, card: Card) -> None:
    response = desk.post(url(card, "report-loss"))

    assert response.status_code == 200


def test_clerk_freezes_and_unfreezes_a_card_giving_reasons(desk: Any, card: Card) -> None:
    frozen = desk.post(url(card, "freeze"), {"reason": "dispute"})
    thawed = desk.post(url(card, "unfreeze"), {"reason": "dispute settled"})

    assert (frozen.status_code, frozen.json()["status"]) == (200, "frozen")
    assert (thawed.status_code, thawed.json()["status"]) == (200, "active")
    reasons = list(AuditEvent.objects.filter(action__in=["card.freeze", "card.unfreeze"])
                   .order_by("id").values_list("after__reason", flat=True))
    assert reasons == ["dispute", "dispute settled"]


def test_a_freeze_without_a_reason_is_refused(desk: Any, card: Card) -> None:
    response = desk.post(url(card, "freeze"), {})

    assert response.status_code == 400
    assert code_of(response) == "invalid_request"
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE


def test_clerk_replaces_a_lost_card_and_the_pending_money_follows(desk: Any, card: Card) -> None:
    desk.post(url(card, "top-up"), {"amount": 3000, "method": "cash"})
    desk.post(url(card, "report-loss"), {})

    response = desk.post(url(card, "replace"), {"uid": "04ffee01"})

    assert response.status_code == 201, response.json()
    new = response.json()
    assert new["card_no"] != card.card_no
    assert new["uid"] == "04ffee01"
    assert new["status"] == "active"
    assert new["replaces"] == card.card_no
    assert new["deposit"] == 2000
    assert new["balances"]["main"] == {"account": 3000, "card": 0, "pending": 3000}
    card.refresh_from_db()
    assert card.status == CardStatus.REPLACED


def test_replacing_with_a_uid_in_use_answers_uid_in_use(clerk: Any, desk: Any,
                                                        card: Card) -> None:
    other = make_card(by=clerk)

    response = desk.post(url(card, "replace"), {"uid": other.uid})

    assert response.status_code == 409
    assert code_of(response) == "uid_in_use"


def test_clerk_cancels_a_card_and_reads_the_refund(desk: Any, card: Card) -> None:
    desk.post(url(card, "top-up"), {"amount": 3000, "method": "cash"})

    response = desk.post(url(card, "cancel"), {"refund_method": "cash"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert {k: body[k] for k in ("card_no", "refund_method", "main", "subsidy", "deposit",
                                 "fee", "total")} == {
        "card_no": card.card_no, "refund_method": "cash", "main": 3000, "subsidy": 0,
        "deposit": 2000, "fee": 0, "total": 5000}
    assert len(body["voided_loads"]) == 1
    assert body["card"]["status"] == "cancelled"
    assert body["card"]["blacklisted"] is True
    assert ledger_check() == []


def test_a_refund_online_is_not_a_refund_method(desk: Any, card: Card) -> None:
    response = desk.post(url(card, "cancel"), {"refund_method": "online"})

    assert response.status_code == 400
    assert code_of(response) == "invalid_request"
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE
    assert Posting.objects.filter(kind="cancel").count() == 0
