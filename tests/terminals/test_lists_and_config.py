"""What terminals fetch and report (terminal-protocol.md §5): the blacklist and its
deltas, pending loads, config, heartbeat; who may ask for access lists (the lists
themselves are tested in tests/access)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from accounts import services
from accounts.models import BlacklistVersion
from accounts.selectors import blacklist_version
from terminals.models import Terminal
from terminals.services import terminal_config_update
from tests.factories import make_card
from tests.terminals.protocol import SignedTerminal, terminal_for

pytestmark = pytest.mark.django_db

BLACKLIST = "/api/v1/terminal/blacklist"
PENDING = "/api/v1/terminal/pending-loads"
CONFIG = "/api/v1/terminal/config"
HEARTBEAT = "/api/v1/terminal/heartbeat"


def error(answer: Any) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["code"]


def blacklist(t: SignedTerminal, since: int | str) -> dict[str, Any]:
    answer = t.get(f"{BLACKLIST}?since={since}")
    assert answer.status_code == 200, answer.content
    return answer.json()


@pytest.fixture
def pos(client, clerk) -> SignedTerminal:
    return terminal_for(client, "pos", by=clerk, name="Canteen 2, window 3", merchant_code="C2")


@pytest.fixture
def kiosk(client, clerk) -> SignedTerminal:
    return terminal_for(client, "kiosk", by=clerk, name="Library kiosk")


# --- blacklist ----------------------------------------------------------------------------


def test_an_empty_blacklist_is_a_full_empty_list_at_version_0(pos) -> None:
    assert blacklist(pos, 0) == {"version": 0, "full": True, "add": [], "remove": []}


def test_since_0_gives_the_whole_current_list(clerk, pos) -> None:
    lost, frozen, fine = (make_card(by=clerk) for _ in range(3))
    services.card_report_loss(card=lost, by=clerk)
    services.card_freeze(card=frozen, by=clerk, reason="dispute")

    answer = blacklist(pos, 0)

    assert answer == {"version": 2, "full": True, "add": sorted([lost.card_no, frozen.card_no]),
                      "remove": []}
    assert fine.card_no not in answer["add"]


def test_a_loss_and_an_unlock_come_as_deltas_one_version_each(clerk, pos) -> None:
    card, other = make_card(by=clerk), make_card(by=clerk)
    services.card_report_loss(card=other, by=clerk)
    start = blacklist(pos, 0)["version"]

    services.card_report_loss(card=card, by=clerk)
    after_loss = blacklist(pos, start)
    services.card_unlock(card=card, by=clerk)
    after_unlock = blacklist(pos, after_loss["version"])
    both = blacklist(pos, start)
    nothing_new = blacklist(pos, after_unlock["version"])

    assert after_loss == {"version": start + 1, "full": False, "add": [card.card_no],
                          "remove": []}
    assert after_unlock == {"version": start + 2, "full": False, "add": [],
                            "remove": [card.card_no]}
    assert both == {"version": start + 2, "full": False, "add": [], "remove": [card.card_no]}
    assert nothing_new == {"version": start + 2, "full": False, "add": [], "remove": []}


def test_every_change_adds_exactly_one_version(clerk, pos) -> None:
    card = make_card(by=clerk)
    seen = [blacklist(pos, 0)["version"]]

    for change in (services.card_report_loss, services.card_unlock, services.card_report_loss,
                   services.card_unlock):
        change(card=card, by=clerk)
        seen.append(blacklist(pos, 0)["version"])
    services.card_top_up(card=card, amount=100, method="cash", by=clerk)  # no list change
    seen.append(blacklist(pos, 0)["version"])

    assert seen == [0, 1, 2, 3, 4, 4]


def test_a_since_ahead_of_the_server_gets_the_full_list(clerk, pos) -> None:
    card = make_card(by=clerk)
    services.card_report_loss(card=card, by=clerk)

    answer = blacklist(pos, 99)

    assert answer == {"version": 1, "full": True, "add": [card.card_no], "remove": []}


def test_a_since_older_than_the_kept_changes_gets_the_full_list(clerk, pos) -> None:
    cards = [make_card(by=clerk) for _ in range(3)]
    for card in cards:
        services.card_report_loss(card=card, by=clerk)
    BlacklistVersion.objects.filter(version__lte=2).delete()  # history pruned

    old = blacklist(pos, 1)
    kept = blacklist(pos, 2)

    assert old["full"] is True and old["add"] == sorted(c.card_no for c in cards)
    assert kept == {"version": 3, "full": False, "add": [cards[2].card_no], "remove": []}


def test_the_folded_delta_equals_the_full_list(clerk, pos) -> None:
    cards = [make_card(by=clerk) for _ in range(4)]
    services.card_report_loss(card=cards[0], by=clerk)
    services.card_report_loss(card=cards[1], by=clerk)
    held = blacklist(pos, 0)
    services.card_unlock(card=cards[0], by=clerk)
    services.card_freeze(card=cards[2], by=clerk, reason="r")
    services.card_replace(card=cards[1], uid="0a0b0c0d", by=clerk)
    services.card_report_loss(card=cards[3], by=clerk)
    services.card_unlock(card=cards[3], by=clerk)

    delta = blacklist(pos, held["version"])
    full = blacklist(pos, 0)

    folded = (set(held["add"]) - set(delta["remove"])) | set(delta["add"])
    assert folded == set(full["add"])
    assert delta["version"] == full["version"] == blacklist_version()


@pytest.mark.parametrize("since", ["abc", "-1", "1.5", "", "1e3", "9" * 16, "%C2%B2",
                                   "%D9%A3"])
def test_a_since_that_is_not_a_whole_number_is_400(pos, since) -> None:
    answer = pos.get(f"{BLACKLIST}?since={since}")

    assert error(answer) == (400, "invalid_request")


def test_fetching_the_blacklist_shows_the_terminal_is_alive(pos) -> None:
    assert pos.model is not None and pos.model.last_seen is None

    blacklist(pos, 0)

    pos.model.refresh_from_db()
    assert pos.model.last_seen is not None


# --- pending loads ------------------------------------------------------------------------


def test_a_kiosk_lists_the_pending_loads_of_a_card(clerk, finance_user, kiosk) -> None:
    card = make_card(by=clerk)
    first = services.card_top_up(card=card, amount=5_000, method="cash", by=clerk)
    services.subsidy_batch_create(name="November meals", purse="subsidy", by=finance_user,
                                  entries=[{"cardholder": card.cardholder.number,
                                            "amount": 20_000}])
    other = make_card(by=clerk)
    services.card_top_up(card=other, amount=700, method="cash", by=clerk)

    answer = kiosk.get(f"{PENDING}?card_no={card.card_no}")

    assert answer.status_code == 200
    loads = answer.json()["loads"]
    assert loads[0] == {"load_id": first.load_id, "purse": "main", "amount": 5_000}
    assert [(ld["purse"], ld["amount"]) for ld in loads] == [("main", 5_000),
                                                             ("subsidy", 20_000)]
    assert all(set(ld) == {"load_id", "purse", "amount"} for ld in loads)


def test_a_card_with_nothing_pending_gets_an_empty_list(clerk, kiosk) -> None:
    card = make_card(by=clerk)

    assert kiosk.get(f"{PENDING}?card_no={card.card_no}").json() == {"loads": []}


def test_issuers_and_load_collecting_pos_may_ask_too(client, clerk) -> None:
    card = make_card(by=clerk)
    services.card_top_up(card=card, amount=100, method="cash", by=clerk)
    issuer = terminal_for(client, "issuer", by=clerk)
    collecting = terminal_for(client, "pos", by=clerk, params={"collect_loads": True})
    plain = terminal_for(client, "pos", by=clerk)
    path = f"{PENDING}?card_no={card.card_no}"

    assert issuer.get(path).status_code == 200
    assert collecting.get(path).json()["loads"][0]["amount"] == 100
    assert error(plain.get(path)) == (403, "not_allowed_for_kind")


@pytest.mark.parametrize("kind", ["door", "attendance"])
def test_door_controllers_and_time_clocks_may_not_ask(client, clerk, kind) -> None:
    t = terminal_for(client, kind, by=clerk)

    assert error(t.get(f"{PENDING}?card_no=20260001")) == (403, "not_allowed_for_kind")


def test_an_unknown_card_is_404(kiosk) -> None:
    assert error(kiosk.get(f"{PENDING}?card_no=99990000111")) == (404, "not_found")


@pytest.mark.parametrize("query", ["?card_no=abc", "?card_no=1234567", "?card_no=" + "1" * 20,
                                   "", "?card_no=", "?card_no=" + "%D9%A2" * 8])
def test_a_malformed_card_no_is_400(kiosk, query) -> None:
    assert error(kiosk.get(f"{PENDING}{query}")) == (400, "invalid_request")


# --- config -------------------------------------------------------------------------------


def test_a_pos_gets_its_defaults_merchant_and_server_time(pos) -> None:
    before = int(time.time())

    config = pos.get(CONFIG).json()

    assert config.pop("server_time") in range(before, int(time.time()) + 1)
    assert config == {
        "terminal_id": pos.terminal_id, "kind": "pos", "name": "Canteen 2, window 3",
        "merchant": {"code": "C2", "name": "C2"}, "config_version": 1,
        "params": {"mode": "free", "max_amount": 5000, "collect_loads": False},
    }


@pytest.mark.parametrize(
    "params",
    [
        {"mode": "free", "max_amount": 3000},
        {"mode": "menu", "menu": [{"key": 1, "name": "Rice", "amount": 150},
                                  {"key": 2, "name": "Noodles", "amount": 800}],
         "max_amount": 5000, "collect_loads": True},
        {"mode": "fixed", "fixed_amount": 250},
    ],
    ids=["free", "menu", "fixed"],
)
def test_a_pos_gets_its_parameters_over_the_defaults(clerk, pos, params) -> None:
    assert pos.model is not None
    terminal_config_update(terminal=pos.model, params=params, by=clerk)

    config = pos.get(CONFIG).json()

    assert config["config_version"] == 2
    assert config["params"] == {"mode": "free", "max_amount": 5000, "collect_loads": False,
                                **params}


def test_every_config_change_adds_one_version(clerk, pos) -> None:
    assert pos.model is not None
    terminal_config_update(terminal=pos.model, params={"max_amount": 1000}, by=clerk)
    terminal_config_update(terminal=pos.model, params={"mode": "fixed", "fixed_amount": 300},
                           by=clerk)

    config = pos.get(CONFIG).json()

    assert config["config_version"] == 3
    assert config["params"]["max_amount"] == 1000 and config["params"]["fixed_amount"] == 300


@pytest.mark.parametrize("kind", ["door", "attendance", "kiosk", "issuer"])
def test_other_kinds_get_no_merchant(client, clerk, kind) -> None:
    t = terminal_for(client, kind, by=clerk)

    config = t.get(CONFIG).json()

    assert (config["terminal_id"], config["kind"], config["merchant"]) == (
        t.terminal_id, kind, None)
    assert isinstance(config["params"], dict)


# --- heartbeat ----------------------------------------------------------------------------


def test_a_heartbeat_is_recorded_and_answered_with_the_servers_versions(clerk, pos) -> None:
    card = make_card(by=clerk)
    services.card_report_loss(card=card, by=clerk)
    services.card_unlock(card=card, by=clerk)
    assert pos.model is not None
    terminal_config_update(terminal=pos.model, params={"max_amount": 900}, by=clerk)
    faults = [{"code": "printer_paper_out", "message": "Window 3 printer is out of paper"}]
    before = int(time.time())

    answer = pos.post(HEARTBEAT, {"ts": before, "blacklist_version": 1, "access_list_version": 0,
                                  "config_version": 1, "last_seq": 42, "queued_records": 3,
                                  "faults": faults})

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body.pop("server_time") in range(before, int(time.time()) + 1)
    assert body == {"blacklist_version": 2, "access_list_version": 0, "config_version": 2}
    terminal = Terminal.objects.get(terminal_id=pos.terminal_id)
    assert terminal.last_seen is not None and terminal.last_seen.timestamp() >= before
    assert (terminal.blacklist_version, terminal.reported_last_seq, terminal.queued_records,
            terminal.faults) == (1, 42, 3, faults)


def test_a_later_heartbeat_clears_the_faults_it_no_longer_reports(pos) -> None:
    pos.post(HEARTBEAT, {"ts": int(time.time()), "blacklist_version": 0,
                         "faults": [{"code": "reader_error", "message": "x"}]})

    pos.post(HEARTBEAT, {"ts": int(time.time()), "blacklist_version": 0, "faults": []})

    assert Terminal.objects.get(terminal_id=pos.terminal_id).faults == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        json.dumps([1, 2]).encode(),
        json.dumps({"blacklist_version": "118"}).encode(),
        json.dumps({"blacklist_version": -1}).encode(),
        json.dumps({"blacklist_version": 1.5}).encode(),
        json.dumps({"queued_records": True}).encode(),
        json.dumps({"last_seq": None}).encode(),
        json.dumps({"faults": "printer"}).encode(),
        json.dumps({"faults": [{"message": "no code"}]}).encode(),
        json.dumps({"faults": ["printer"]}).encode(),
    ],
)
def test_a_malformed_heartbeat_is_400_and_records_nothing(pos, body) -> None:
    answer = pos.post(HEARTBEAT, body)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] in ("invalid_request", "malformed_body")
    terminal = Terminal.objects.get(terminal_id=pos.terminal_id)
    assert (terminal.last_seen, terminal.blacklist_version, terminal.faults) == (None, 0, [])


# --- access control (tests/access has the lists themselves) ------------------------------


def test_a_door_controller_gets_its_access_list_and_other_kinds_do_not(client, clerk,
                                                                       pos) -> None:
    door = terminal_for(client, "door", by=clerk)

    listed = door.get("/api/v1/terminal/access-list?since=0")
    checked = door.post("/api/v1/terminal/access-check",
                        {"card_no": "20260001", "door": 1, "ts": int(time.time())})
    refused = pos.get("/api/v1/terminal/access-list?since=0")

    assert listed.status_code == 200
    assert listed.json() == {"version": 0, "full": True, "schedules": {}, "grants": [],
                             "revoke": [], "holidays": []}
    assert checked.json() == {"granted": False, "reason": "unknown_card"}
    assert error(refused) == (403, "not_allowed_for_kind")


def test_access_control_still_needs_a_signature(client, clerk) -> None:
    door = terminal_for(client, "door", by=clerk)

    answer = door.send("GET", "/api/v1/terminal/access-list?since=0", secret="00" * 32)

    assert error(answer) == (401, "bad_signature")

