"""A canteen reader and a kiosk through a working day, against a protocol server on a
real socket: selling, going offline, uploading the backlog, applying the blacklist."""

from __future__ import annotations

import pytest

from terminals.client.card import SoftCard
from terminals.client.http import ProtocolError, TerminalClient, Unreachable
from terminals.client.protocol import compute_tac
from terminals.client.queue import RecordQueue
from terminals.client.terminal import KioskTerminal, PosTerminal, Refusal
from tests.terminals.client.stub_server import StubServer

CARD_KEY = bytes.fromhex("0d6be83f0b9bf77b567c981421d65205")
POS, KIOSK = "POS-0001", "KIOSK-0001"
SECRETS = {POS: "11" * 32, KIOSK: "22" * 32}


def make_card(card_no: str = "20260001", *, main: int = 0, subsidy: int = 0) -> SoftCard:
    card = SoftCard.new()
    card.personalise(1, CARD_KEY, card_no)
    if main:
        card.transact("load", "main", main, 1, 1, "SETUP")
    if subsidy:
        card.transact("load", "subsidy", subsidy, 1, 1, "SETUP")
    return card


@pytest.fixture
def server():
    with StubServer(dict(SECRETS)) as stub:
        stub.state.config[POS] = {"config_version": 1, "kind": "pos",
                                  "params": {"mode": "free", "max_amount": 5000}}
        yield stub


def terminal(cls, server, tmp_path, tid, **kw):
    client = TerminalClient(server.url, tid, SECRETS[tid], timeout=5)
    return cls(client, RecordQueue(tmp_path / f"{tid}.sqlite3"), retry_delay=0.01, **kw)


@pytest.fixture
def pos(server, tmp_path):
    return terminal(PosTerminal, server, tmp_path, POS)


@pytest.fixture
def kiosk(server, tmp_path):
    return terminal(KioskTerminal, server, tmp_path, KIOSK)


def test_a_sale_takes_subsidy_first_and_queues_the_record_the_server_can_check(pos):
    pos.sync()
    card = make_card(main=3000, subsidy=1000)

    sale = pos.sell(card, 800)

    assert sale.ok and card.subsidy == 200 and card.main == 3000
    rec = sale.record
    assert rec == {
        "type": "purchase", "terminal_seq": 1, "ts": rec["ts"], "card_no": "20260001",
        "card_seq": 3, "purse": "subsidy", "amount": 800, "balance_before": 1000,
        "key_version": 1, "tac": rec["tac"],
    }
    fields = {k: rec[k] for k in ("type", "card_no", "card_seq", "purse", "amount",
                                  "balance_before", "terminal_seq", "ts")}
    assert rec["tac"] == compute_tac(CARD_KEY, terminal_id=POS, **fields)
    assert pos.queue.unsent(10) == [rec]


def test_a_sale_no_single_purse_covers_is_refused_without_touching_the_card(pos):
    pos.sync()
    card = make_card(main=500, subsidy=600)

    assert pos.sell(card, 700).refused is Refusal.INSUFFICIENT
    assert pos.sell(card, 550).record["purse"] == "subsidy"
    assert pos.sell(card, 500).record["purse"] == "main"
    assert card.card_seq == 4 and pos.queue.count() == 2
    assert pos.sell(card, 6000).refused is Refusal.OVER_LIMIT, "max_amount of the config"
    assert pos.sell(card, 0).refused is Refusal.INVALID_AMOUNT
    assert pos.sell(SoftCard.new(), 10).refused is Refusal.NOT_PERSONALISED


def test_the_purse_order_is_the_terminals_policy(server, tmp_path):
    pos = terminal(PosTerminal, server, tmp_path, POS, purse_order=("main", "subsidy"))
    card = make_card(main=1000, subsidy=1000)
    assert pos.sell(card, 100).record["purse"] == "main"
    assert pos.sell(card, 100, purse="subsidy").record["purse"] == "subsidy"


def test_offline_sales_wait_in_the_queue_and_go_up_in_batches_later(server, pos):
    pos.batch_size = 4
    card = make_card(main=100_000)
    server.state.fail_next = ["drop", "drop", "drop"]  # the network is down
    for _ in range(10):
        assert pos.sell(card, 100).ok
    with pytest.raises(Unreachable):
        pos.sync()
    assert pos.queue.count() == 10

    report = pos.sync()

    assert report.upload.sent == 10 and report.upload.batches == 3
    assert report.upload.statuses == {"accepted": 10}
    assert report.upload.highest_contiguous_seq == 10
    assert pos.queue.count() == 0
    assert sorted(seq for _t, seq in server.state.records) == list(range(1, 11))


def test_a_failed_upload_is_retried_with_the_same_records(server, pos):
    card = make_card(main=10_000)
    for _ in range(3):
        pos.sell(card, 100)
    server.state.fail_next = [503, "drop"]

    report = pos.sync()

    uploads = [s.body for s in server.state.seen if s.path.endswith("/records")]
    assert len(uploads) == 3 and uploads[0] == uploads[1] == uploads[2]
    assert report.upload.statuses == {"accepted": 3} and pos.queue.count() == 0


def test_an_upload_the_server_refuses_outright_is_not_retried(server, pos):
    pos.sell(make_card(main=1000), 100)
    server.state.fail_next = [400]
    with pytest.raises(ProtocolError) as info:
        pos.upload_pending()
    assert info.value.status == 400 and pos.queue.count() == 1


def test_a_batch_too_large_is_halved(server, pos):
    card = make_card(main=10_000)
    for _ in range(6):
        pos.sell(card, 10)
    server.state.fail_next = [413]

    stats = pos.upload_pending()

    assert pos.batch_size == 3 and stats.batches == 2 and stats.statuses == {"accepted": 6}


def test_a_batch_uploaded_again_is_all_duplicates(server, pos):
    pos.sell(make_card(main=1000), 100)
    batch = pos.queue.unsent(10)
    pos.upload_pending()
    answer = pos.client.upload(batch)
    assert [r["status"] for r in answer["results"]] == ["duplicate"]
    assert answer["highest_contiguous_seq"] == 1


def test_a_card_reported_lost_is_refused_once_the_blacklist_delta_lists_it(server, pos):
    pos.sync()
    lost, other = make_card("20260001", main=5000), make_card("20260002", main=5000)
    server.state.blacklist_add("20269999")
    pos.sync()
    server.state.blacklist_add("20260001")

    assert pos.sell(lost, 100).ok, "the terminal does not know yet"
    pos.sync()

    assert pos.blacklisted("20260001")
    refused = pos.sell(lost, 100)
    assert refused.refused is Refusal.BLACKLISTED and refused.record is None
    assert lost.card_seq == 2 and pos.queue.count() == 0
    assert pos.sell(other, 100).ok
    delta = [s.path for s in server.state.seen if "/blacklist" in s.path]
    assert delta == ["/api/v1/terminal/blacklist?since=0",  # a full list, version 0
                     "/api/v1/terminal/blacklist?since=0",  # a full list, version 1
                     "/api/v1/terminal/blacklist?since=1"]  # the delta that lists the card

    server.state.blacklist_remove("20260001")  # found again and unlocked
    pos.sync()
    assert pos.sell(lost, 100).ok


def test_config_is_fetched_again_only_when_its_version_changes(server, pos):
    pos.sync()
    pos.sync()
    assert sum(s.path.endswith("/config") for s in server.state.seen) == 1
    assert pos.mode == "free" and pos.price() is None

    server.state.config[POS] = {"config_version": 2, "params": {
        "mode": "menu", "menu": [{"key": 1, "name": "Rice", "amount": 150}]}}
    report = pos.sync()

    assert report.config_changed and pos.config_version == 2
    assert pos.mode == "menu" and pos.price(1) == 150 and pos.price(9) is None
    assert sum(s.path.endswith("/config") for s in server.state.seen) == 2


def test_the_heartbeat_reports_versions_sequence_backlog_and_faults(server, pos):
    card = make_card(main=1000)
    pos.sell(card, 100)
    server.state.blacklist_add("20260005")
    pos.report_fault("printer_paper_out", "Printer out of paper")

    pos.sync()
    pos.sell(card, 100)
    server.state.fail_next = ["drop"] * 3
    with pytest.raises(Unreachable):
        pos.upload_pending()
    pos.send_heartbeat()

    first, second = server.state.heartbeats
    assert first["blacklist_version"] == 1 and first["config_version"] == 1
    assert (first["last_seq"], first["queued_records"]) == (1, 0)
    assert first["faults"] == [{"code": "printer_paper_out", "message": "Printer out of paper"}]
    assert (second["last_seq"], second["queued_records"], second["faults"]) == (2, 1, [])


def test_a_kiosk_writes_pending_loads_to_the_card_and_uploads_at_once(server, kiosk):
    card = make_card("20260001")
    server.state.pending["20260001"] = [
        {"load_id": "L-a", "purse": "subsidy", "amount": 20000},
        {"load_id": "L-b", "purse": "main", "amount": 5000},
    ]

    claim = kiosk.claim_loads(card)

    assert [r["load_id"] for r in claim.records] == ["L-a", "L-b"]
    assert (card.subsidy, card.main, card.card_seq) == (20000, 5000, 2)
    assert claim.records[0]["type"] == "load" and claim.records[0]["balance_before"] == 0
    assert kiosk.queue.count() == 0 and server.state.pending["20260001"] == []
    assert kiosk.claim_loads(card).records == []


def test_a_kiosk_never_writes_the_same_load_twice_even_before_the_server_has_it(server, kiosk):
    card = make_card("20260001")
    server.state.pending["20260001"] = [{"load_id": "L-a", "purse": "main", "amount": 100}]
    server.state.fail_next = [None, "drop"]  # pending-loads answered, the upload is not
    kiosk.retries = 0

    first = kiosk.claim_loads(card)
    second = kiosk.claim_loads(card)

    assert len(first.records) == 1 and second.skipped == [("L-a", "already_written")]
    assert card.main == 100 and kiosk.queue.count() == 1


def test_a_load_that_would_overfill_the_purse_stays_pending(server, kiosk):
    card = make_card("20260001", main=990_000)
    server.state.pending["20260001"] = [{"load_id": "L-big", "purse": "main", "amount": 20_000}]
    claim = kiosk.claim_loads(card)
    assert claim.records == [] and claim.skipped == [("L-big", "card_9402")]
    assert server.state.pending["20260001"] != []


def test_cash_loads_are_records_with_source_cash(kiosk):
    card = make_card("20260001")
    outcome = kiosk.cash_load(card, 3000)
    assert outcome.ok and outcome.record["source"] == "cash" and card.main == 3000
    assert "load_id" not in outcome.record
    assert kiosk.cash_load(card, 0).refused is Refusal.INVALID_AMOUNT


def test_a_pos_writes_loads_only_when_its_config_allows(server, pos):
    pos.sync()
    card = make_card("20260001")
    assert pos.claim_loads(card).refused is Refusal.LOADS_NOT_ALLOWED
    assert pos.cash_load(card, 100).refused is Refusal.LOADS_NOT_ALLOWED

    server.state.config[POS] = {"config_version": 2, "params": {"collect_loads": True}}
    pos.sync()
    assert pos.cash_load(card, 100).ok


def test_a_blacklisted_card_gets_no_loads_either(server, kiosk):
    card = make_card("20260001")
    server.state.blacklist_add("20260001")
    server.state.pending["20260001"] = [{"load_id": "L-a", "purse": "main", "amount": 100}]
    kiosk.sync()
    assert kiosk.claim_loads(card).refused is Refusal.BLACKLISTED
    assert card.card_seq == 0


def test_a_pos_restarted_offline_keeps_its_numbers_blacklist_and_menu(server, pos, tmp_path):
    server.state.blacklist_add("20260002")
    server.state.config[POS] = {"config_version": 3, "params": {"mode": "fixed",
                                                                "fixed_amount": 500}}
    pos.sync()
    pos.sell(make_card("20260001", main=2000), 500)
    pos.queue.close()  # the power goes; the network is down when it comes back
    server.state.fail_next = ["drop"] * 10

    again = terminal(PosTerminal, server, tmp_path, POS)

    assert again.mode == "fixed" and again.price() == 500
    assert again.sell(make_card("20260002", main=2000), 500).refused is Refusal.BLACKLISTED
    assert again.sell(make_card("20260003", main=2000), 500).record["terminal_seq"] == 2


def test_a_heartbeat_before_any_config_leaves_config_version_out(server, kiosk):
    kiosk.send_heartbeat()
    assert "config_version" not in server.state.heartbeats[-1]
    assert server.state.heartbeats[-1]["last_seq"] == 0
