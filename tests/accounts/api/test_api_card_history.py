"""A card's history (operations-api.md, Cards and Cardholder self-service): the ledger
postings and the accepted terminal records, each newest first, paged with the same
`page` and `page_size`. Every record here is made by a card and uploaded by a signed
terminal through the real ingest."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import Card
from tests.accounts.api.conftest import code_of
from tests.factories import make_card, make_cardholder
from tests.terminals.protocol import Chip, SignedTerminal, results, terminal_for

pytestmark = pytest.mark.django_db

STAFF = "/api/v1/cards/{}/transactions"
PORTAL = "/api/v1/me/cards/{}/transactions"


@pytest.fixture
def pos(client: Client, clerk: Any, purse_key: Any) -> SignedTerminal:
    services.merchant_create(code="C2", name="Canteen 2", fee_rate_bp=0, by=clerk)
    return terminal_for(client, "pos", by=clerk, name="Canteen 2, window 3", merchant_code="C2")


@pytest.fixture
def kiosk(client: Client, clerk: Any, purse_key: Any) -> SignedTerminal:
    return terminal_for(client, "kiosk", by=clerk, name="Library kiosk")


@pytest.fixture
def gate(client: Client, clerk: Any) -> SignedTerminal:
    return terminal_for(client, "door", by=clerk, name="Library gate", doors=2)


@pytest.fixture
def clock(client: Client, clerk: Any) -> SignedTerminal:
    return terminal_for(client, "attendance", by=clerk, name="Lab clock")


def upload(terminal: SignedTerminal, *records: dict[str, Any]) -> None:
    answer = terminal.upload(list(records))
    assert [status for _seq, status in results(answer)] == ["accepted"] * len(records)


def topped_up(clerk: Any, kiosk: SignedTerminal, card: Card, amount: int = 10_000) -> Chip:
    """Top-up at the desk, then the card on the kiosk: the pending load is written."""
    chip = Chip.of(card)
    load = services.card_top_up(card=card, amount=amount, method="cash", by=clerk)
    upload(kiosk, chip.load(kiosk, amount, load_id=load.load_id))
    return chip


def door(gate: SignedTerminal, card: Card, result: str = "granted",
         reason: str | None = None) -> dict[str, Any]:
    return {"type": "door", "terminal_seq": gate.next_seq(), "ts": int(time.time()),
            "card_no": card.card_no, "door": 1, "result": result, "reason": reason,
            "direction": "entry"}


def punch(clock: SignedTerminal, card: Card) -> dict[str, Any]:
    return {"type": "punch", "terminal_seq": clock.next_seq(), "ts": int(time.time()),
            "card_no": card.card_no}


def history(api: Any, url: str, query: str = "") -> dict[str, Any]:
    response = api.get(url + query)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


# --- What the card office sees ----------------------------------------------------------


def test_a_clerk_sees_a_purchase_at_a_named_till_with_its_merchant_and_the_load_before_it(
        desk: Any, clerk: Any, card: Card, pos: SignedTerminal, kiosk: SignedTerminal) -> None:
    chip = topped_up(clerk, kiosk, card)
    sold_at = int(time.time()) - 60
    upload(pos, chip.purchase(pos, 1250, ts=sold_at))

    body = history(desk, STAFF.format(card.card_no))

    assert body["records_count"] == 2
    purchase, load = body["records"]
    assert purchase == {
        "type": "purchase", "terminal_id": pos.terminal_id, "terminal_seq": 1,
        "terminal_name": "Canteen 2, window 3", "merchant": {"code": "C2", "name": "Canteen 2"},
        "ts": purchase["ts"], "received_at": purchase["received_at"], "card_seq": 2,
        "purse": "main", "amount": 1250, "balance_before": 10_000, "balance_after": 8750,
        "load_id": None, "source": None, "posting": purchase["posting"], "door": None,
        "result": None, "reason": None, "direction": None, "flags": [],
    }
    ts = dt.datetime.fromisoformat(purchase["ts"])
    assert ts.utcoffset() is not None and ts.timestamp() == sold_at
    posting_ids = {p["id"]: p["kind"] for p in body["results"]}
    assert posting_ids[purchase["posting"]] == "record_purchase"
    assert (load["type"], load["terminal_name"], load["merchant"]) == ("load", "Library kiosk",
                                                                        None)
    assert (load["amount"], load["source"], load["card_seq"]) == (10_000, "top_up", 1)
    assert load["load_id"].startswith("L-")
    assert load["posting"] is None  # the money was credited at the top-up


def test_loads_name_their_source_subsidy_cash_and_replacement(
        desk: Any, clerk: Any, holder: Any, card: Card, kiosk: SignedTerminal) -> None:
    chip = Chip.of(card)
    services.subsidy_batch_create(name="March meals", purse="subsidy", by=clerk,
                                  entries=[{"cardholder": holder.number, "amount": 3000}])
    subsidy = card.loads.get(source="subsidy")
    upload(kiosk, chip.load(kiosk, 3000, "subsidy", load_id=subsidy.load_id))
    upload(kiosk, chip.load(kiosk, 500))  # cash taken by the kiosk itself
    new = services.card_replace(card=card, uid="04ffee01", by=clerk)
    moved = new.loads.get(source="replacement", purse="main")
    upload(kiosk, Chip.of(new).load(kiosk, moved.amount, load_id=moved.load_id))

    old_records = history(desk, STAFF.format(card.card_no))["records"]
    new_records = history(desk, STAFF.format(new.card_no))["records"]

    assert [(r["purse"], r["amount"], r["source"]) for r in old_records] == [
        ("main", 500, "cash"), ("subsidy", 3000, "subsidy")]
    # The new card lists its own records only; the old card's stay on its history.
    assert [(r["amount"], r["source"], r["card_seq"]) for r in new_records] == [
        (500, "replacement", 1)]


def test_records_are_listed_newest_first_by_arrival(desk: Any, clerk: Any, card: Card,
                                                     pos: SignedTerminal,
                                                     kiosk: SignedTerminal) -> None:
    chip = topped_up(clerk, kiosk, card)
    upload(pos, chip.purchase(pos, 100))
    upload(pos, chip.purchase(pos, 200), chip.purchase(pos, 300))  # one batch: by seq
    # A till that was offline uploads last a sale made earlier by its clock.
    upload(pos, chip.purchase(pos, 400, ts=int(time.time()) - 3600))

    records = history(desk, STAFF.format(card.card_no))["records"]

    assert [r["amount"] for r in records] == [400, 300, 200, 100, 10_000]
    arrivals = [dt.datetime.fromisoformat(r["received_at"]) for r in records]
    assert arrivals == sorted(arrivals, reverse=True)


def test_the_period_limits_records_and_postings_alike(desk: Any, clerk: Any, card: Card,
                                                      pos: SignedTerminal,
                                                      kiosk: SignedTerminal) -> None:
    chip = topped_up(clerk, kiosk, card)
    upload(pos, chip.purchase(pos, 100))
    time.sleep(0.01)
    between = timezone.localtime()
    time.sleep(0.01)
    upload(pos, chip.purchase(pos, 200))
    url = STAFF.format(card.card_no)
    today = timezone.localdate()

    def amounts(query: str) -> list[int]:
        return [r["amount"] for r in history(desk, url, query)["records"]]

    assert amounts(f"?from={today}&to={today}") == [200, 100, 10_000]
    assert amounts(f"?to={today - dt.timedelta(days=1)}") == []
    assert amounts(f"?from={today + dt.timedelta(days=1)}") == []
    moment = between.isoformat().replace("+", "%2B")
    assert amounts(f"?from={moment}") == [200]
    assert amounts(f"?to={moment}") == [100, 10_000]
    later = history(desk, url, f"?from={moment}")
    assert (later["count"], later["records_count"]) == (1, 1)
    assert later["results"][0]["id"] == later["records"][0]["posting"]


def test_rejected_records_and_other_cards_records_never_appear(
        desk: Any, clerk: Any, card: Card, pos: SignedTerminal, kiosk: SignedTerminal) -> None:
    chip = topped_up(clerk, kiosk, card)
    forged = {**chip.purchase(pos, 100), "amount": 1}  # the TAC no longer matches
    answer = pos.upload([forged])
    assert results(answer) == [(forged["terminal_seq"], "bad_tac")]
    other = make_card(by=clerk, cardholder=make_cardholder(by=clerk, number="S2026009"))
    other_chip = topped_up(clerk, kiosk, other, amount=700)
    upload(pos, other_chip.purchase(pos, 70))

    body = history(desk, STAFF.format(card.card_no))

    assert [(r["type"], r["amount"]) for r in body["records"]] == [("load", 10_000)]
    assert body["records_count"] == 1
    assert [r["amount"] for r in history(desk, STAFF.format(other.card_no))["records"]] == [
        70, 700]


def test_records_by_a_wrong_clock_are_listed_by_arrival_and_flagged(
        desk: Any, holder_client: Any, clerk: Any, card: Card, pos: SignedTerminal,
        kiosk: SignedTerminal, gate: SignedTerminal) -> None:
    chip = topped_up(clerk, kiosk, card)
    ahead = int(time.time()) + 3 * 86_400
    upload(pos, chip.purchase(pos, 100, ts=ahead))
    upload(gate, {**door(gate, card), "ts": 10**14})  # beyond any calendar

    [sale, _load] = history(desk, STAFF.format(card.card_no))["records"]
    [entry, *_rest] = history(holder_client, PORTAL.format(card.card_no))["records"]

    assert (sale["amount"], sale["flags"]) == (100, ["clock_skew"])
    assert dt.datetime.fromisoformat(sale["ts"]).timestamp() == ahead
    assert (entry["type"], entry["ts"]) == ("door", None)


def test_the_staff_history_lists_money_records_only(desk: Any, clerk: Any, card: Card,
                                                    kiosk: SignedTerminal, gate: SignedTerminal,
                                                    clock: SignedTerminal) -> None:
    topped_up(clerk, kiosk, card)
    upload(gate, door(gate, card))
    upload(clock, punch(clock, card))

    body = history(desk, STAFF.format(card.card_no))

    assert [r["type"] for r in body["records"]] == ["load"]


# --- Paging -----------------------------------------------------------------------------


def test_records_and_postings_page_together(desk: Any, clerk: Any, card: Card,
                                            pos: SignedTerminal, kiosk: SignedTerminal) -> None:
    chip = topped_up(clerk, kiosk, card)  # postings: deposit, top-up; records: the load
    for amount in (1, 2, 3, 4, 5):
        upload(pos, chip.purchase(pos, amount))  # a posting and a record each
    url = STAFF.format(card.card_no)

    first = history(desk, url, "?page_size=3")
    second = history(desk, desk_link(first["next"]))
    last = history(desk, desk_link(second["next"]))

    assert (first["count"], first["records_count"]) == (7, 6)
    assert [r["amount"] for r in first["records"]] == [5, 4, 3]
    assert [r["amount"] for r in second["records"]] == [2, 1, 10_000]
    assert [p["kind"] for p in first["results"]] == ["record_purchase"] * 3
    assert [p["kind"] for p in last["results"]] == ["deposit"]
    assert (last["records"], last["next"]) == ([], None)
    assert first["previous"] is None
    assert second["previous"].endswith(url + "?page_size=3")
    response = desk.get(url + "?page_size=3&page=4")
    assert response.status_code == 404
    assert code_of(response) == "not_found"


def desk_link(url: str | None) -> str:
    assert url is not None
    return url.removeprefix("http://testserver")


# --- What the holder sees ---------------------------------------------------------------


def test_a_holder_sees_their_purchases_doors_and_punches_paged(
        holder_client: Any, clerk: Any, card: Card, pos: SignedTerminal, kiosk: SignedTerminal,
        gate: SignedTerminal, clock: SignedTerminal) -> None:
    chip = topped_up(clerk, kiosk, card)
    upload(pos, chip.purchase(pos, 880))
    upload(gate, door(gate, card, "denied", "schedule"))
    upload(clock, punch(clock, card))
    url = PORTAL.format(card.card_no)

    body = history(holder_client, url)
    paged = history(holder_client, url, "?page=2&page_size=2")

    assert [r["type"] for r in body["records"]] == ["punch", "door", "purchase", "load"]
    punched, denied, bought, _load = body["records"]
    assert (punched["terminal_name"], punched["amount"]) == ("Lab clock", None)
    assert (denied["door"], denied["result"], denied["reason"], denied["direction"]) == (
        1, "denied", "schedule", "entry")
    assert (bought["merchant"]["name"], bought["amount"]) == ("Canteen 2", 880)
    assert "flags" not in bought and "load_id" not in bought
    assert [r["type"] for r in paged["records"]] == ["purchase", "load"]
    assert (paged["count"], [p["kind"] for p in paged["results"]]) == (3, ["deposit"])
    assert paged["next"] is None


def test_a_holder_never_sees_another_holders_records(
        holder_client: Any, clerk: Any, card: Card, kiosk: SignedTerminal,
        gate: SignedTerminal) -> None:
    other = make_card(by=clerk, cardholder=make_cardholder(by=clerk, number="S2026002"))
    topped_up(clerk, kiosk, other, amount=600)
    upload(gate, door(gate, other))
    upload(gate, door(gate, card))

    mine = history(holder_client, PORTAL.format(card.card_no))
    theirs = holder_client.get(PORTAL.format(other.card_no))

    assert [(r["type"], r["terminal_seq"]) for r in mine["records"]] == [("door", 2)]
    assert theirs.status_code == 404
    assert code_of(theirs) == "not_found"


# --- Query strings ------------------------------------------------------------------------


BAD_VALUES = ["null", "x", "\x00", "9" * 40, "-1"]
GOOD_VALUES = {"from": "2026-03-01", "to": "2026-03-02", "page": "1", "page_size": "2"}


@pytest.mark.parametrize("url", [STAFF, PORTAL])
@pytest.mark.parametrize("name", ["from", "to", "page", "page_size"])
def test_a_bad_query_value_answers_invalid_request_naming_it(
        desk: Any, holder_client: Any, card: Card, url: str, name: str) -> None:
    api = desk if url == STAFF else holder_client
    values = [*BAD_VALUES, *(["0", "1.5", " 1"] if name.startswith("page") else [])]
    values += ["501"] if name == "page_size" else []
    queries: list[dict[str, str | list[str]]] = [{name: value} for value in values]
    queries.append({name: [GOOD_VALUES[name], GOOD_VALUES[name]]})  # given twice

    for query in queries:
        response = api.get(url.format(card.card_no), query)

        assert response.status_code == 400, (query, response.content)
        assert code_of(response) == "invalid_request"
        assert response.json()["error"]["field"] == name, query
        assert list(response.json()["error"]["fields"]) == [name], query


@pytest.mark.parametrize("query", ["?from=0001-01-01", "?to=9999-12-31",
                                   "?from=0001-01-01T00:00:00%2B14:00",
                                   "?to=9999-12-31T23:59:59-12:00"])
def test_the_ends_of_the_calendar_are_no_server_error(desk: Any, card: Card,
                                                      query: str) -> None:
    response = desk.get(STAFF.format(card.card_no) + query)

    assert response.status_code in (200, 400), response.content
