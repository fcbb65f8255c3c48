"""The serial gateway's throughput (issue 6 §4): --serial-readers emulated readers full of
records on one bus at --serial-baud, the gateway (`python -m terminals.serial_gateway`,
a process of its own, as deployed) emptying them, and the line's own limit beside it.

The line. A pty moves bytes as fast as the kernel copies them, whatever baud rate is
set on it, so a pty alone would flatter the gateway. The bus is modelled instead:

    gateway ─ pty pair 1 ─ LineModel ─ pty pair 2 ─ reader emulator

`LineModel` relays bytes between the two pairs on one shared, half-duplex medium: a
chunk is delivered only after its bytes have had their time on the wire (10 bits a
byte: start, 8 data, stop) and after everything already on the wire, in either
direction; so the bytes per second can never exceed baud / 10. The gateway code is
not paced at all; the emulator answers at once (a real reader's turnaround would be
the reader's cost, not the gateway's).

The yardstick is the same line: bytes per record = every byte of one full POLL
exchange (request, answer carrying 8 of these records) and its ACK exchange (request
and answer), divided by 8; the line limit is (baud / 10) / that. Records per second
is measured at the readers' end, from the first POLL to the ACK that left the last
reader empty. The ratio of the two is the line utilisation (goal ≥ 0.70).

Uploading is live: the gateway uploads to gunicorn on the bench database while it
polls (bench/ingest.py's server); after the run the server must hold every record
exactly once and every card balance and the ledger must check out. Each record is a
real purse transaction of a `SoftCard` personalised with its real key (cash loads at
the reader first, then sales), so the server accepts them only if the TACs are right.

Django is imported inside the functions: `bench/__main__.py` sets it up first.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import serial

from bench.ingest import _server
from terminals.client.serialbus import HEADER, Frame
from terminals.fleet.fleet import SimCard, cards_check
from terminals.serial_gateway.commands import Command
from terminals.serial_gateway.emulator import EmulatedReader, ReaderEmulator, pty_pair
from terminals.serial_gateway.records import MAX_RECORDS, encode_record

REPO = Path(__file__).resolve().parent.parent
CHUNK = 16  # bytes relayed at a time: the line streams, it does not store frames
FRAME = HEADER + 2  # header and CRC around a payload
GOAL = 0.70
DRAIN_TIMEOUT_S = 600
UPLOAD_TIMEOUT_S = 120


class LineModel:
    """Two pty ends joined through one half-duplex medium of `baud` baud."""

    def __init__(self, a: str, b: str, baud: int) -> None:
        self.ports = [serial.Serial(a, timeout=0), serial.Serial(b, timeout=0)]
        self.byte_time = 10 / baud
        self.bytes = 0
        self._marks: list[tuple[float, int]] = []  # (when a chunk started, bytes before it)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="line-model", daemon=True)

    def start(self) -> LineModel:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for port in self.ports:
            port.close()

    def bytes_before_first_poll(self, readers: list[TimedReader]) -> int:
        """Bytes on the wire before the first POLL (SET IDENTITY, SET TIME, STATUS)."""
        first = min(r.first_poll or float("inf") for r in readers)
        return max((n for when, n in self._marks if when <= first), default=0)

    def _run(self) -> None:
        free_at = 0.0  # when the wire is free again (scheduled, so sleep overshoot
        fds = {port.fileno(): i for i, port in enumerate(self.ports)}  # never adds up)
        while not self._stop.is_set():
            ready, _, _ = select.select(list(fds), [], [], 0.1)
            for fd in ready:
                data = os.read(fd, CHUNK)
                if not data:
                    continue
                start = max(time.monotonic(), free_at)
                free_at = start + len(data) * self.byte_time
                self.bytes += len(data)
                self._marks.append((start, self.bytes - len(data)))
                delay = free_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.ports[1 - fds[fd]].write(data)


class TimedReader(EmulatedReader):
    """Notes when the gateway's first POLL came and when an ACK left it empty."""

    first_poll: float | None = None
    emptied: float | None = None

    def answer(self, request: Frame) -> Frame | None:
        reply = super().answer(request)
        now = time.monotonic()
        if request.command == Command.POLL and self.first_poll is None:
            self.first_poll = now
        if request.command == Command.ACK and not self.records and self.emptied is None:
            self.emptied = now
        return reply


def line_limit(baud: int, records: list[dict[str, Any]]) -> tuple[float, float]:
    """(bytes on the line per record, records per second the line allows) for POLLs
    carrying 8 records of the average size of these."""
    mean = sum(len(encode_record(r)) for r in records) / len(records)
    exchange = (FRAME  # POLL request
                + FRAME + 1 + MAX_RECORDS * mean  # its answer: count and 8 records
                + FRAME + 4  # ACK request: terminal_seq
                + FRAME)  # ACK answer
    per_record = exchange / MAX_RECORDS
    return per_record, (baud / 10) / per_record


def _campus(readers: int, records: int, seed: int) -> tuple[Any, list[Any], list[TimedReader],
                                                             dict[str, str]]:
    from terminals.simulator import CardOffice

    office = CardOffice(random.Random(seed))
    office.ensure_purse_key()
    cards = [SimCard.of(office.issue(i)) for i in range(max(8, readers * 2))]
    rng = random.Random(seed)
    emulated, secrets = [], {}
    for n in range(readers):
        registered = office.register("pos", n, {"collect_loads": True})
        reader = TimedReader(n + 1, registered.terminal_id, capacity=records + 10)
        secrets[registered.terminal_id] = registered.secret
        mine = cards[n * 2:n * 2 + 2] or cards[:2]
        for card in mine:
            if card.soft.main < 100_000:
                reader.cash_load(card.soft, 200_000)
        while reader.last_seq < records:
            reader.sell(rng.choice(mine).soft, rng.choice((150, 300, 800, 1250)))
        emulated.append(reader)
    return office, cards, emulated, secrets


def _toml(server: str, queue: Path, readers: list[TimedReader], secrets: dict[str, str]) -> str:
    lines = [f'[server]\nurl = "{server}"\n', f'[queue]\npath = "{queue}"\n']
    for r in readers:
        lines.append(f'[[reader]]\naddress = {r.address}\nterminal_id = "{r.terminal_id}"\n'
                     f'secret = "{secrets[r.terminal_id]}"\n')
    return "\n".join(lines)


def _server_holds(readers: list[TimedReader]) -> bool:
    from terminals.models import Terminal

    held = dict(Terminal.objects.filter(terminal_id__in=[r.terminal_id for r in readers])
                .values_list("terminal_id", "contiguous_seq"))
    return all(held.get(r.terminal_id) == r.last_seq for r in readers)


def _wait(condition: Any, seconds: float, gateway: subprocess.Popen[str]) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline or gateway.poll() is not None:
            return False
        time.sleep(0.05)
    return True


def run(ctx: Any) -> dict[str, Any]:
    from terminals.models import RecordStatus, TerminalRecord

    args = ctx.args
    baud, n_readers, per_reader = args.serial_baud, args.serial_readers, args.serial_records
    t0 = time.perf_counter()
    office, cards, readers, secrets = _campus(n_readers, per_reader, args.serial_seed)
    records = [r for reader in readers for r in reader.records]
    per_record, limit = line_limit(baud, records)
    setup_s = time.perf_counter() - t0
    print(f"  {len(records)} records on {n_readers} readers; the line at {baud} baud carries "
          f"{limit:.1f} records/s at most ({per_record:.2f} bytes a record)", flush=True)

    with ExitStack() as stack:
        base, _pid = stack.enter_context(_server(ctx.database_url, workers=2, conn_max_age=0,
                                                 extra=[]))
        gateway_end, line_a = stack.enter_context(pty_pair())
        line_b, readers_end = stack.enter_context(pty_pair())
        line = LineModel(line_a, line_b, baud).start()
        stack.callback(line.stop)
        emulator = ReaderEmulator(serial.Serial(readers_end, baudrate=baud), readers)
        stack.enter_context(emulator)
        state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="onecard-serial-")))
        config = state / "gateway.toml"
        config.write_text(_toml(base, state / "queue.sqlite3", readers, secrets))
        log = (Path(__file__).resolve().parent / "out" / "serial-gateway.log").open("w")
        stack.callback(log.close)
        gateway = subprocess.Popen(
            [sys.executable, "-m", "terminals.serial_gateway", "--port", gateway_end,
             "--baud", str(baud), "--config", str(config), "--lang", "en", "--progress", "5"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True)
        drained = _wait(lambda: all(r.emptied for r in readers), DRAIN_TIMEOUT_S, gateway)
        line_bytes = line.bytes - line.bytes_before_first_poll(readers)
        uploaded = _wait(lambda: _server_holds(readers), UPLOAD_TIMEOUT_S, gateway)
        upload_done = time.monotonic()
        gateway.send_signal(signal.SIGTERM)
        exit_code = gateway.wait(timeout=60)

    if not drained:
        raise RuntimeError("the gateway did not empty the readers; see bench/out/"
                           "serial-gateway.log")
    first = min(r.first_poll or 0.0 for r in readers)
    last = max(r.emptied or 0.0 for r in readers)
    elapsed = last - first
    rate = len(records) / elapsed
    stored = TerminalRecord.objects.filter(terminal__terminal_id__in=secrets)
    accepted = stored.filter(status=RecordStatus.ACCEPTED).count()
    figures = office.figures([c.card_no for c in cards], [])
    problems = cards_check(cards, figures) + figures.problems
    if problems or not uploaded or accepted != len(records):
        ctx.notes.append(f"serial-gateway: {len(problems)} balance/ledger problems, "
                         f"{accepted} of {len(records)} records accepted")
    ratio = rate / limit
    ctx.notes.append(f"serial-gateway: {rate:.1f} records/s over a modelled {baud}-baud line "
                     f"whose limit is {limit:.1f} records/s: utilisation {ratio:.2f} "
                     f"({'meets' if ratio >= GOAL else 'BELOW'} the goal of {GOAL}); "
                     "uploads were live, to gunicorn, during the run")
    return {
        "readers": n_readers,
        "records": len(records),
        "baud": baud,
        "setup_s": round(setup_s, 2),
        "drain_s": round(elapsed, 2),
        "records_per_s": round(rate, 1),
        "line_bytes_per_record": round(per_record, 2),
        "line_limit_records_per_s": round(limit, 1),
        "utilisation": round(ratio, 3),
        "goal": GOAL,
        "meets_goal": ratio >= GOAL,
        "line_bytes_per_s": round(line_bytes / elapsed, 1),
        "line_bytes_per_s_max": baud / 10,
        "upload": "live, to gunicorn while polling",
        "upload_lag_after_last_ack_s": round(upload_done - last, 2) if uploaded else None,
        "server_accepted": accepted,
        "server_stored": stored.count(),
        "balances_and_ledger_ok": not problems,
        "gateway_exit_code": exit_code,
    }
