"""Batches racing each other and a server killed in the middle of one (§5: "Uploading
the same batch again, any number of times, changes nothing. A crash in the middle of a
batch leaves each record either fully applied or not at all; the terminal's retry then
completes it."). Real PostgreSQL connections; the crash test runs a real gunicorn."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.db.models import Sum

from accounts import services
from accounts.models import Card
from accounts.selectors import card_balances, ledger_check
from terminals.ingest import records_ingest
from terminals.models import Terminal, TerminalRecord
from terminals.services import terminal_register
from tests.concurrent import run_at_once
from tests.conftest import TEST_KEK
from tests.factories import make_card
from tests.terminals.protocol import RECORDS, Chip, Counter, payable, sign_headers

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.concurrency,
    pytest.mark.usefixtures("on_postgres"),
]

REPO = Path(__file__).resolve().parents[2]


def funded_chips(clerk: Any, kiosk: Terminal, count: int, amount: int) -> list[Chip]:
    """Cards with `amount` on main, written to them at the kiosk."""
    till = Counter(kiosk.terminal_id, kiosk.contiguous_seq)
    chips, loads = [], []
    for _ in range(count):
        chip = Chip.of(make_card(by=clerk))
        load = services.card_top_up(card=chip.card, amount=amount, method="cash", by=clerk)
        loads.append(chip.load(till, amount, load_id=load.load_id))
        chips.append(chip)
    answer = records_ingest(terminal=kiosk, records=loads)
    assert {r["status"] for r in answer.results} == {"accepted"}
    return chips


def register(kind: str, clerk: Any, merchant: str | None = None) -> Terminal:
    return terminal_register(kind=kind, name=kind, by=clerk, merchant_code=merchant)[0]


def main_figures(chip: Chip) -> dict[str, int]:
    card = Card.objects.select_related("cardholder").get(pk=chip.card.pk)
    return card_balances(card)["main"]


def assert_cards_match(chips: list[Chip]) -> None:
    for chip in chips:
        assert main_figures(chip) == {"account": chip.purses["main"],
                                      "card": chip.purses["main"], "pending": 0}


# --- Races ------------------------------------------------------------------------------------


def test_the_same_batch_sent_twice_at_once_is_applied_once(clerk, purse_key) -> None:
    kiosk, pos = register("kiosk", clerk), register("pos", clerk, "C1")
    chips = funded_chips(clerk, kiosk, 10, 5_000)
    till = Counter(pos.terminal_id)
    batch = [chip.purchase(till, 100 + i) for i in range(20) for chip in chips]

    outcomes = run_at_once({name: partial(records_ingest, terminal=pos, records=batch)
                            for name in ("first", "retry")})

    assert {n: repr(o.error) for n, o in outcomes.items() if not o.ok} == {}
    statuses = sorted({r["status"] for r in o.value.results}.pop() for o in outcomes.values())
    assert statuses == ["accepted", "duplicate"]
    assert all(o.value.highest_contiguous_seq == 200 for o in outcomes.values())
    assert TerminalRecord.objects.filter(terminal=pos).count() == 200
    assert payable("C1") == sum(r["amount"] for r in batch)
    assert_cards_match(chips)
    assert ledger_check() == []


@pytest.mark.parametrize("round_no", [1, 2, 3])
def test_two_canteens_touching_the_same_cards_in_opposite_orders_do_not_deadlock(
        clerk, purse_key, round_no) -> None:
    kiosk = register("kiosk", clerk)
    first, second = register("pos", clerk, "C1"), register("pos", clerk, "C2")
    chips = funded_chips(clerk, kiosk, 12, 10_000)
    tills = {first.terminal_id: Counter(first.terminal_id),
             second.terminal_id: Counter(second.terminal_id)}
    forward = [chip.purchase(tills[first.terminal_id], 300 + round_no) for chip in chips]
    backward = [chip.purchase(tills[second.terminal_id], 200) for chip in reversed(chips)]
    forward += [chip.purchase(tills[first.terminal_id], 50) for chip in chips]
    backward += [chip.purchase(tills[second.terminal_id], 70) for chip in reversed(chips)]

    outcomes = run_at_once({
        "C1": partial(records_ingest, terminal=first, records=forward),
        "C2": partial(records_ingest, terminal=second, records=backward),
    })

    assert {n: repr(o.error) for n, o in outcomes.items() if not o.ok} == {}
    for outcome in outcomes.values():
        assert {r["status"] for r in outcome.value.results} == {"accepted"}
    assert payable("C1") == 12 * (300 + round_no + 50)
    assert payable("C2") == 12 * (200 + 70)
    # The two terminals' records of one card interleave on the card in any order; the
    # card's figure and the account agree whatever the order the server saw.
    assert_cards_match(chips)
    assert ledger_check() == []


def test_a_canteen_batch_racing_top_ups_and_a_loss_at_the_counter(clerk, purse_key) -> None:
    kiosk, pos = register("kiosk", clerk), register("pos", clerk, "C1")
    chips = funded_chips(clerk, kiosk, 6, 4_000)
    till = Counter(pos.terminal_id)
    batch = [chip.purchase(till, 250) for _ in range(3) for chip in chips]
    tasks: dict[str, Callable[[], Any]] = {
        "pos": partial(records_ingest, terminal=pos, records=batch),
        "loss": partial(services.card_report_loss, card=chips[0].card, by=clerk),
    }
    for i, chip in enumerate(reversed(chips)):
        tasks[f"top-up-{i}"] = partial(services.card_top_up, card=chip.card, amount=1_000,
                                       method="cash", by=clerk)

    outcomes = run_at_once(tasks)

    assert {n: repr(o.error) for n, o in outcomes.items() if not o.ok} == {}
    assert {r["status"] for r in outcomes["pos"].value.results} == {"accepted"}
    for chip in chips:
        assert main_figures(chip) == {"account": 4_000 - 750 + 1_000, "card": 4_000 - 750,
                                      "pending": 1_000}
    assert payable("C1") == 6 * 750
    assert ledger_check() == []


# --- A server killed in the middle of a batch ---------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Server:
    """gunicorn with one worker on the test database, in its own process group."""

    def __init__(self, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": _database_url(), "ONECARD_KEK": TEST_KEK,
               "ONECARD_KEK_FILE": "", "DEBUG": "false", "LANGUAGE_CODE": "en",
               "ONECARD_MAX_BALANCE": "1000000"}
        gunicorn = Path(sys.executable).parent / "gunicorn"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(gunicorn), "onecard.wsgi:application", "--bind",
                 f"127.0.0.1:{self.port}", "--workers", "1", "--timeout", "120"],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if requests.get(f"{self.url}/api/v1/terminal/config", timeout=2).status_code:
                    return
            except (requests.ConnectionError, requests.Timeout):  # a slow start on a busy machine
                time.sleep(0.1)
        raise AssertionError(f"gunicorn did not start: {self.log.read_text()[-3000:]}")

    def workers(self) -> list[int]:
        assert self.proc is not None
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.proc.pid:  # the parent pid
                pids.append(int(stat.parent.name))
        return pids

    def kill(self) -> None:
        """SIGKILL to master and worker at once; return when both are gone."""
        assert self.proc is not None
        workers = self.workers()
        assert workers, "gunicorn has no worker"
        os.killpg(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(timeout=10) == -signal.SIGKILL
        for pid in workers:
            _wait_dead(pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def _wait_dead(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state in ("Z", "X"):  # dead, waiting only to be reaped by init
            return
        time.sleep(0.01)
    raise AssertionError(f"worker {pid} survived SIGKILL")


@contextmanager
def running(log: Path) -> Iterator[Server]:
    server = Server(log)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def post_batch(server: Server, terminal_id: str, secret: str, records: list[dict[str, Any]],
               timeout: float = 60) -> requests.Response:
    body = json.dumps({"records": records}).encode()
    headers = sign_headers(terminal_id, secret, "POST", RECORDS, body)
    return requests.post(server.url + RECORDS, data=body, timeout=timeout,
                         headers={**headers, "Content-Type": "application/json"})


def _server_transaction_open() -> bool:
    """A server backend has held, for more than a moment, a transaction that has locked
    or written rows: the batch's (a request's nonce insert is over in a moment)."""
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL "
                    "AND clock_timestamp() - xact_start > interval '10 milliseconds'")
        row = cur.fetchone()
    return bool(row and row[0])


def _wait_for_no_server_transaction() -> None:
    deadline = time.monotonic() + 30
    while _server_transaction_open():
        assert time.monotonic() < deadline, "the killed server's transaction never ended"
        time.sleep(0.02)


def assert_each_record_whole(pos: Terminal, batch: list[dict[str, Any]]) -> None:
    """Every stored record has its posting and its money; nothing else moved."""
    stored = TerminalRecord.objects.filter(terminal=pos)
    assert not stored.filter(status="accepted", posting_id__isnull=True).exists()
    amounts = stored.aggregate(s=Sum("amount"))["s"] or 0
    assert payable("C1") == amounts
    by_seq = {r["terminal_seq"]: r for r in batch}
    for seq, raw in stored.values_list("terminal_seq", "raw"):
        assert raw == by_seq[seq]
    breaches = ledger_check()
    # Cards whose purchases are applied while others are not cannot differ: the card
    # figure and the account move together in each record's posting.
    assert breaches == [], breaches


def test_a_server_killed_mid_batch_and_restarted_applies_the_retry_exactly_once(
        clerk, purse_key, tmp_path) -> None:
    kiosk, kiosk_secret = terminal_register(kind="kiosk", name="Kiosk", by=clerk)
    pos, pos_secret = terminal_register(kind="pos", name="Canteen", by=clerk,
                                        merchant_code="C1")
    chips = [Chip.of(make_card(by=clerk)) for _ in range(50)]
    k_till, p_till = Counter(kiosk.terminal_id), Counter(pos.terminal_id)
    loads = []
    for chip in chips:
        load = services.card_top_up(card=chip.card, amount=30_000, method="cash", by=clerk)
        loads.append(chip.load(k_till, 30_000, load_id=load.load_id))
    batch = [chip.purchase(p_till, random.randint(100, 1_400)) for _ in range(20)
             for chip in chips]
    random.shuffle(batch)  # a batch in any order
    assert len(batch) == 1000
    log = tmp_path / "gunicorn.log"
    first: dict[str, Any] = {}

    def send_first(server: Server) -> None:
        try:
            first["answer"] = post_batch(server, pos.terminal_id, pos_secret, batch)
        except requests.RequestException as exc:
            first["error"] = exc

    with running(log) as server:
        warm = post_batch(server, kiosk.terminal_id, kiosk_secret, loads)
        assert warm.status_code == 200, warm.text
        assert {r["status"] for r in warm.json()["results"]} == {"accepted"}
        sender = threading.Thread(target=send_first, args=(server,), daemon=True)
        sender.start()
        deadline = time.monotonic() + 20
        while not _server_transaction_open() and sender.is_alive():
            assert time.monotonic() < deadline, "the batch never started"
            time.sleep(0.002)
        time.sleep(random.uniform(0.0, 0.05))
        server.kill()
        sender.join(timeout=30)
        assert not sender.is_alive()

    _wait_for_no_server_transaction()
    killed_mid_batch = "error" in first
    applied_before_retry = TerminalRecord.objects.filter(terminal=pos).count()
    if killed_mid_batch:
        # Nothing of an unanswered batch may be half there.
        assert_each_record_whole(pos, batch)
    else:  # the answer got out just before the kill
        assert first["answer"].status_code == 200

    with running(log) as server:
        retry = post_batch(server, pos.terminal_id, pos_secret, batch)
        again = post_batch(server, pos.terminal_id, pos_secret, batch)

    assert retry.status_code == 200, retry.text
    statuses = [r["status"] for r in retry.json()["results"]]
    assert set(statuses) <= {"accepted", "duplicate"}
    assert statuses.count("duplicate") == applied_before_retry
    assert retry.json()["highest_contiguous_seq"] == 1000
    assert {r["status"] for r in again.json()["results"]} == {"duplicate"}
    assert TerminalRecord.objects.filter(terminal=pos, status="accepted").count() == 1000
    assert payable("C1") == sum(r["amount"] for r in batch)
    assert_cards_match(chips)
    assert ledger_check() == []
    print(f"killed mid-batch: {killed_mid_batch}; records applied before the retry: "
          f"{applied_before_retry}")
