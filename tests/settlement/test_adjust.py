"""Finance corrects money through suspense; big corrections need a second person."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import LoadSource, PendingLoad
from accounts.selectors import card_balances, ledger_check
from settlement.models import ExceptionStatus, ReconException
from tests.accounts.scenario import balance
from tests.factories import StaffFactory, make_card

pytestmark = pytest.mark.django_db


def finance(name: str) -> APIClient:
    api = APIClient()
    user = StaffFactory(username=name, role="finance")
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")  # type: ignore[misc]
    return api


@pytest.fixture
def imbalance(clerk):
    card = make_card(by=clerk)
    return ReconException.objects.create(
        key=f"card_db_imbalance:test:{card.card_no}", code="card_db_imbalance",
        business_date=dt.date(2026, 11, 22), card_no=card.card_no), card


def resolve(api: APIClient, exc: ReconException, **body: object) -> object:
    return api.post(f"/api/v1/exceptions/{exc.pk}/resolve", body, format="json")


def test_a_small_correction_credits_the_purse_and_owes_it_to_the_card(imbalance) -> None:
    exc, card = imbalance

    answer = resolve(finance("fin-a"), exc, action="adjust", amount=500, note="kiosk fault")

    assert answer.status_code == 200, answer.content  # type: ignore[attr-defined]
    assert answer.json()["status"] == ExceptionStatus.RESOLVED  # type: ignore[attr-defined]
    assert card_balances(card)["main"] == {"account": 500, "card": 0, "pending": 500}
    assert PendingLoad.objects.get(card=card).source == LoadSource.CORRECTION
    assert balance("suspense") == -500
    assert ledger_check() == []


def test_a_big_correction_waits_for_a_second_finance_user(imbalance, settings) -> None:
    settings.ONECARD_ADJUST_APPROVAL_THRESHOLD = 1000
    exc, card = imbalance
    first, second = finance("fin-a"), finance("fin-b")

    proposed = resolve(first, exc, action="adjust", amount=5000, note="lost batch")
    assert proposed.status_code == 202 and proposed.json()["awaiting_approval"]  # type: ignore[attr-defined]
    assert card_balances(card)["main"]["account"] == 0

    again = resolve(first, exc, action="adjust", amount=5000, note="lost batch")
    assert again.json()["error"]["code"] == "second_approver_required"  # type: ignore[attr-defined]
    other = resolve(second, exc, action="adjust", amount=4000, note="lost batch")
    assert other.json()["error"]["code"] == "proposal_differs"  # type: ignore[attr-defined]

    approved = resolve(second, exc, action="adjust", amount=5000, note="approved")
    assert approved.status_code == 200  # type: ignore[attr-defined]
    assert card_balances(card)["main"] == {"account": 5000, "card": 0, "pending": 5000}
    assert ledger_check() == []


def test_an_adjustment_needs_an_amount_and_a_card(imbalance) -> None:
    exc, _card = imbalance
    api = finance("fin-a")
    assert resolve(api, exc, action="adjust", note="n").status_code == 400  # type: ignore[attr-defined]
    gap = ReconException.objects.create(key="terminal_seq_gap:t", code="terminal_seq_gap",
                                        business_date=dt.date(2026, 11, 22), terminal_id="POS-1")
    answer = resolve(api, gap, action="adjust", amount=100, note="n")
    assert answer.json()["error"]["code"] == "nothing_to_adjust"  # type: ignore[attr-defined]
