"""A small fleet runs against the real server (a live HTTP server on the test database):
every record arrives once, every card's balance on the server matches the card. The
fleet (`terminals.fleet`) gets its terminals and cards from the set-up
(`terminals.simulator`) as plain data."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Card, CardStatus
from terminals.client.terminal import Refusal
from terminals.fleet.fleet import SimCard, cards_check
from terminals.fleet.plan import CardSpec, ServerFigures
from terminals.fleet.summary import Summary
from terminals.models import Terminal
from terminals.simulator import SimulationOptions, run_simulation


@pytest.mark.django_db(transaction=True)
def test_a_small_fleet_runs_a_busy_minute_and_every_balance_matches(live_server, purse_key):
    lines: list[str] = []
    options = SimulationOptions(
        server=live_server.url, pos=3, kiosks=1, cards=12, seconds=6, offline_rate=0.3,
        duplicate_rate=0.3, batch=25, seed=7, lost_cards=4, sync_every=0.5,
        offline_for=(0.5, 1.5), progress_every=1, log=lines.append,
    )

    summary = run_simulation(options)

    assert summary.ok, summary.as_text()
    assert summary.sales > 0 and summary.loads > 0
    assert summary.statuses["accepted"] == summary.records_made, "each record accepted once"
    assert summary.statuses["duplicate"] >= summary.resent > 0
    assert summary.statuses["conflict"] == summary.statuses["rejected"] == 0
    assert summary.records_sent == summary.records_made + summary.statuses["duplicate"]
    assert summary.lost_cards == 4
    assert Card.objects.filter(status=CardStatus.LOST).count() == 4
    assert summary.refusals[Refusal.BLACKLISTED] > 0, "POS refuse lost cards once listed"
    assert Terminal.objects.filter(kind="pos").count() == 3
    assert any("records/s" in line for line in lines)
    assert "every card balance matches" in summary.as_text()


def test_summary_figures():
    summary = Summary(elapsed=2.0, latencies=[i / 1000 for i in range(1, 101)])
    summary.statuses["accepted"] = 50
    summary.mismatches.append("card 20260001 main: server says 1 on the card, the card holds 2")

    assert summary.records_per_second == 25.0
    assert summary.latency_ms(0.5) == pytest.approx(50, abs=1)
    assert summary.latency_ms(0.99) == pytest.approx(99, abs=1)
    assert not summary.ok and "1 MISMATCHES" in summary.as_text()
    assert Summary().latency_ms(0.99) == 0.0


def test_the_fleet_holds_each_card_against_the_servers_figures():
    card = SimCard.of(CardSpec("20260001", "04a1b2c3", 1, "0d6be83f0b9bf77b567c981421d65205"))
    card.soft.transact("load", "main", 5_000, 1795000000, 1, "KIOSK-0001")
    agreeing = {"main": {"account": 5_000, "card": 5_000, "pending": 0},
                "subsidy": {"account": 300, "card": 0, "pending": 300}}
    disagreeing = {"main": {"account": 5_000, "card": 4_000, "pending": 1_000},
                   "subsidy": {"account": 300, "card": 0, "pending": 0}}

    assert cards_check([card], ServerFigures({"20260001": agreeing}, {})) == []
    assert cards_check([card], ServerFigures({"20260001": disagreeing}, {})) == [
        "card 20260001 main: server says 4000 on the card, the card holds 5000",
        "card 20260001 subsidy: account 300 != card 0 + pending 0",
    ]


@pytest.mark.parametrize("args", [["--batch", "0"], ["--batch", "1001"], ["--kiosks", "0"],
                                  ["--door-controllers", "-1"], ["--doors", "0"]])
def test_the_command_refuses_impossible_fleets(args):
    with pytest.raises(CommandError):
        call_command("simulate", "--server", "http://127.0.0.1:1", *args,
                     stdout=io.StringIO(), stderr=io.StringIO())
