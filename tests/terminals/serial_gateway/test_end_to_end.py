"""Readers on a real pty pair (socat), the gateway at the other end, the real server
behind it (pytest-django's live_server on PostgreSQL): sales made by software cards
with real keys travel reader → bus → gateway → server, through line noise, a reader
going silent, a card reported lost, the server going away, and a gateway restart, and
every one of them reaches the ledger exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from terminals.client.http import TerminalClient
from terminals.models import RecordStatus, Terminal, TerminalRecord
from terminals.serial_gateway.emulator import Noise, ReaderEmulator
from terminals.serial_gateway.gateway import Gateway
from terminals.serial_gateway.store import GatewayStore
from tests.terminals.serial_gateway.conftest import (
    Campus,
    TcpSwitch,
    open_port,
    wait_for,
)

pytestmark = [pytest.mark.hardware, pytest.mark.django_db(transaction=True),
              pytest.mark.xdist_group("serial")]

REPO = Path(__file__).resolve().parents[3]


def faults(terminal_id: str) -> list[str]:
    return [f["code"] for f in Terminal.objects.get(terminal_id=terminal_id).faults]


def server_holds(campus: Campus) -> bool:
    held = dict(Terminal.objects.filter(terminal_id__in=[r.terminal_id for r in campus.readers])
                .values_list("terminal_id", "contiguous_seq"))
    return all(held.get(r.terminal_id) == r.last_seq for r in campus.readers)


def assert_every_record_posted_once(campus: Campus) -> None:
    for reader in campus.readers:
        stored = TerminalRecord.objects.filter(terminal__terminal_id=reader.terminal_id)
        assert stored.count() == reader.last_seq
        assert set(stored.values_list("status", flat=True)) == {RecordStatus.ACCEPTED}
    assert campus.check() == []  # card balances and the whole ledger


def test_sales_cross_a_noisy_line_and_a_reader_going_silent_exactly_once(
        campus: Campus, live_server, pty_pair, tmp_path: Path) -> None:
    readers = campus.stock(cards=6, readers=4, sales=30, first_address=10, seed=1)
    total = sum(r.last_seq for r in readers)
    noise = Noise(byte_rate=0.001, junk_rate=0.05, seed=3)
    master, slave = (open_port(d) for d in pty_pair)
    gateway = Gateway(campus.config(live_server.url, tmp_path / "q.sqlite3"), master)
    with ReaderEmulator(slave, readers, noise=noise), gateway.running():
        wait_for(lambda: server_holds(campus), 30, "every record on the server")
        quiet = readers[1]
        quiet.silent = True
        wait_for(lambda: "reader_offline" in faults(quiet.terminal_id), 20, "reader_offline")
        campus.fill(quiet, 5)  # it keeps selling while the bus cannot reach it
        quiet.silent = False
        wait_for(lambda: "reader_offline" not in faults(quiet.terminal_id), 20, "back online")
        wait_for(lambda: server_holds(campus), 30, "the quiet reader's sales")
        lost = campus.cards[0]
        campus.office.report_loss(lost.card_no)  # every reader must list it, and say so
        wait_for(lambda: all(lost.card_no in r.blacklist for r in readers), 20, "the blacklist")
        wait_for(lambda: all(Terminal.objects.get(terminal_id=r.terminal_id).blacklist_version
                             == r.blacklist_version > 0 for r in readers), 20,
                 "heartbeats with the new version")
        figures = gateway.figures()
    master.close()
    slave.close()
    made = sum(r.last_seq for r in readers)
    assert made > total and figures["statuses"] == {"accepted": made}
    assert figures["pending"] == 0
    assert noise.hits > 10 and figures["bus"]["corrupt"] + figures["bus"]["timeouts"] > 0
    assert not any(r.records for r in readers)
    assert_every_record_posted_once(campus)


def test_a_server_outage_and_a_gateway_restart_lose_nothing_and_post_nothing_twice(
        campus: Campus, live_server, server_switch: TcpSwitch, pty_pair,
        tmp_path: Path) -> None:
    readers = campus.stock(cards=4, readers=3, sales=20, first_address=1, seed=2)
    total = sum(r.last_seq for r in readers)
    queue = tmp_path / "q.sqlite3"
    master, slave = (open_port(d) for d in pty_pair)
    server_switch.off()
    with ReaderEmulator(slave, readers):
        first = Gateway(campus.config(server_switch.url, queue), master)
        with first.running():  # the server is away: readers are emptied all the same
            wait_for(lambda: not any(r.records for r in readers), 20, "readers emptied")
            assert first.server_reachable is False
        with GatewayStore(queue) as store:
            assert store.pending_count() == total
            # As if a gateway had uploaded a batch and died before it could forget it.
            held = store.pending(readers[0].terminal_id, 10)
        assert TerminalRecord.objects.count() == 0

        server_switch.on()
        TerminalClient(live_server.url, readers[0].terminal_id,
                       campus.secrets[readers[0].terminal_id]).upload(held)
        second = Gateway(campus.config(server_switch.url, queue), master)  # the restart
        with second.running():
            campus.fill(readers[2], 5)  # sales go on meanwhile
            wait_for(lambda: server_holds(campus), 30, "every record on the server")
            wait_for(lambda: second.figures()["pending"] == 0, 10, "the store emptied")
            figures = second.figures()
    master.close()
    slave.close()
    made = sum(r.last_seq for r in readers)
    assert made > total and figures["statuses"] == {"accepted": made - 10, "duplicate": 10}
    assert_every_record_posted_once(campus)


def test_the_command_runs_the_bus_and_stops_cleanly_on_sigterm(
        campus: Campus, live_server, pty_pair, tmp_path: Path) -> None:
    readers = campus.stock(cards=2, readers=2, sales=10, first_address=5, seed=3)
    config = tmp_path / "gateway.toml"
    config.write_text(campus.toml(live_server.url, tmp_path / "q.sqlite3"))
    slave = open_port(pty_pair[1])
    with ReaderEmulator(slave, readers):
        proc = subprocess.Popen(
            [sys.executable, "-m", "terminals.serial_gateway", "--port", pty_pair[0],
             "--baud", "19200", "--config", str(config), "--lang", "en", "--progress", "0.5"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        lines: list[str] = []
        assert proc.stdout is not None
        reading = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
        reading.start()
        try:
            wait_for(lambda: server_holds(campus), 30, "every record on the server")
            wait_for(lambda: all(Terminal.objects.get(terminal_id=r.terminal_id).last_seen
                                 for r in readers), 10, "heartbeats")
            wait_for(lambda: any("queued 0; readers online 2/2" in line for line in lines), 10,
                     "a progress line")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            reading.join(timeout=10)
    slave.close()
    out = "".join(lines)
    assert proc.returncode == 0, out
    assert "Serial gateway on" in out and "readers online 2/2" in out
    assert "Stopping: 0 records" in out and out.endswith("Serial gateway stopped.\n")
    assert_every_record_posted_once(campus)
