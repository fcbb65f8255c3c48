"""A clerk's network drops and the console retries: Idempotency-Key makes the retry safe."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, connections, transaction

from accounts.models import Card, Cardholder, PendingLoad, SubsidyBatch
from accounts.selectors import card_balances
from core.models import IdempotentRequest
from tests.accounts.api.conftest import client_for, code_of
from tests.factories import StaffFactory, make_card, make_cardholder

TOP_UP = {"amount": 5000, "method": "cash", "reference": "counter 1"}


def top_up(client: Any, card: Card, body: dict[str, Any], key: str) -> Any:
    return client.post(f"/api/v1/cards/{card.card_no}/top-up", body, HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_a_retried_top_up_replays_the_first_answer_and_loads_once(desk: Any, card: Card) -> None:
    first = top_up(desk, card, TOP_UP, "till-1-0001")

    retry = top_up(desk, card, TOP_UP, "till-1-0001")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotency-Replayed"] == "true"
    assert "Idempotency-Replayed" not in first
    assert PendingLoad.objects.count() == 1
    assert card_balances(card)["main"]["account"] == 5000


@pytest.mark.django_db
def test_the_same_key_with_another_body_answers_idempotency_key_reused(desk: Any,
                                                                       card: Card) -> None:
    top_up(desk, card, TOP_UP, "till-1-0001")

    reused = top_up(desk, card, {**TOP_UP, "amount": 9000}, "till-1-0001")

    assert reused.status_code == 422
    assert code_of(reused) == "idempotency_key_reused"
    assert PendingLoad.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_on_another_path_answers_idempotency_key_reused(desk: Any,
                                                                     card: Card) -> None:
    top_up(desk, card, TOP_UP, "till-1-0001")

    reused = desk.post(f"/api/v1/cards/{card.card_no}/report-loss", {},
                       HTTP_IDEMPOTENCY_KEY="till-1-0001")

    assert reused.status_code == 422
    card.refresh_from_db()
    assert card.status == "active"


@pytest.mark.django_db
def test_keys_belong_to_their_user(desk: Any, card: Card) -> None:
    other_clerk = client_for(StaffFactory(role="card_office"))
    top_up(desk, card, TOP_UP, "shared-key")

    theirs = top_up(other_clerk, card, TOP_UP, "shared-key")

    assert theirs.status_code == 201
    assert "Idempotency-Replayed" not in theirs
    assert PendingLoad.objects.count() == 2


@pytest.mark.django_db
def test_a_refused_request_is_not_remembered_so_a_corrected_retry_runs(desk: Any,
                                                                       card: Card) -> None:
    refused = top_up(desk, card, {**TOP_UP, "amount": 0}, "till-1-0002")

    retried = top_up(desk, card, TOP_UP, "till-1-0002")

    assert refused.status_code == 400
    assert retried.status_code == 201
    assert "Idempotency-Replayed" not in retried
    assert IdempotentRequest.objects.get(key="till-1-0002").status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/cardholders", {"number": "S77", "name": "N", "kind": "student"}),
    ("/api/v1/cards", {"cardholder": "S2026001", "uid": "04ffee01", "deposit": 100}),
    ("/api/v1/cards/{card_no}/replace", {"uid": "04ffee02"}),
    ("/api/v1/cards/{card_no}/cancel", {"refund_method": "cash"}),
    ("/api/v1/cards/{card_no}/freeze", {"reason": "r"}),
    ("/api/v1/subsidies", {"name": "n", "purse": "subsidy",
                           "entries": [{"cardholder": "S2026001", "amount": 5}]}),
])
def test_every_creating_call_replays_under_its_key(desk: Any, clerk: Any, holder: Cardholder,
                                                   path: str, body: dict[str, Any]) -> None:
    card = make_card(by=clerk, cardholder=holder) if "{card_no}" in path else None
    if path == "/api/v1/subsidies":
        make_card(by=clerk, cardholder=holder)
    url = path.format(card_no=card.card_no if card else "")

    first = desk.post(url, body, HTTP_IDEMPOTENCY_KEY="k-1")
    retry = desk.post(url, body, HTTP_IDEMPOTENCY_KEY="k-1")

    assert 200 <= first.status_code < 300, first.json()
    assert (retry.status_code, retry.json()) == (first.status_code, first.json())
    assert retry["Idempotency-Replayed"] == "true"
    assert Card.objects.count() <= 2
    assert Cardholder.objects.count() <= 2
    assert SubsidyBatch.objects.count() <= 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 129, "with space", "汉字"])
def test_an_unusable_key_is_refused(desk: Any, card: Card, key: str) -> None:
    response = top_up(desk, card, TOP_UP, key)

    assert response.status_code == 400
    assert code_of(response) == "invalid_request"
    assert not PendingLoad.objects.exists()


def lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # statistics are cached per transaction
        cursor.execute("SELECT count(*) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND wait_event_type = 'Lock'")
        return int(cursor.fetchone()[0])


def wait_for_lock_waiters(count: int) -> None:
    deadline = time.monotonic() + 20
    while lock_waiters() < count:
        assert time.monotonic() < deadline, "the requests never reached the database locks"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_two_simultaneous_retries_of_a_top_up_load_once(on_postgres: None) -> None:
    """The first request waits on the card (held here) with its key row inserted; the
    twin then waits on that row's unique index. Released, the first commits and the
    twin replays its answer."""
    clerk = StaffFactory(username="clerk-zhao", role="card_office")
    card = make_card(by=clerk, cardholder=make_cardholder(by=clerk))
    answers: dict[str, Any] = {}

    def till(name: str) -> None:
        try:
            answers[name] = top_up(client_for(clerk), card, TOP_UP, "till-9-0001")
        finally:
            connections.close_all()

    first = threading.Thread(target=till, args=("first",))
    twin = threading.Thread(target=till, args=("twin",))
    with transaction.atomic():
        Card.objects.select_for_update().get(pk=card.pk)
        first.start()
        wait_for_lock_waiters(1)
        twin.start()
        wait_for_lock_waiters(2)
    first.join(timeout=30)
    twin.join(timeout=30)

    assert (answers["first"].status_code, answers["twin"].status_code) == (201, 201)
    assert answers["twin"].json() == answers["first"].json()
    assert "Idempotency-Replayed" not in answers["first"]
    assert answers["twin"]["Idempotency-Replayed"] == "true"
    assert PendingLoad.objects.filter(card=card).count() == 1
    assert card_balances(card)["main"]["account"] == 5000


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_two_tills_racing_with_the_same_key_load_once(on_postgres: None) -> None:
    clerk = StaffFactory(username="clerk-zhao", role="card_office")
    card = make_card(by=clerk, cardholder=make_cardholder(by=clerk))
    start = threading.Barrier(2)
    answers: list[Any] = []

    def till() -> None:
        try:
            client = client_for(clerk)
            start.wait()
            answers.append(top_up(client, card, TOP_UP, "till-9-0001"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=till) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert sorted(a.get("Idempotency-Replayed", "") for a in answers) == ["", "true"]
    assert PendingLoad.objects.filter(card=card).count() == 1
