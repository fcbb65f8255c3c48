"""Readers on the bus, in software, for tests and the benchmark.

`EmulatedReader` is one reader as serial-bus.md describes it: an address, the identity
SET IDENTITY gave it (every TAC it makes names it), a record store that forgets only
what an ACK covers, a blacklist with its version, a clock set by SET TIME, fault bits,
and a `SoftCard` slot: `sell` and `cash_load` run a real purse transaction on the card,
so the TAC is the card's own and the server checks it as it would any reader's.

`ReaderEmulator` puts several of them on one port and answers every frame addressed
to one of them, `FF` errors included. A reader told to go `silent` answers nothing;
`noise` corrupts bytes in both directions and sprays junk between frames.

`LoopLine` is pyserial's `loop://` made into a two-wire RS-485 bus: a write by anyone
reaches everyone, the writer included. The master's port is the `LoopLine` itself (it
hears its request echoed, then the answer, as on a real half-duplex pair); the
emulator gets `LoopLine.tap()`, which hears the same bytes and writes its answers
into the same loop.
"""

from __future__ import annotations

import queue
import random
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import serial

from terminals.client.card import SoftCard
from terminals.client.protocol import LOAD, MAIN, PURCHASE
from terminals.client.serialbus import ERROR, MAX_PAYLOAD, Frame, FrameReader
from terminals.serial_gateway.bus import Port
from terminals.serial_gateway.commands import (
    ANSWER_BIT,
    Command,
    ErrorCode,
    Status,
    decode_list_change,
    read_u32,
    u32,
)
from terminals.serial_gateway.records import (
    CASH,
    MAX_RECORDS,
    RecordError,
    encode_poll,
    encode_record,
    read_str,
)


class StorageFull(Exception):
    """The reader's record memory is full: it refuses sales until records are ACKed."""


class _Refused(Exception):
    def __init__(self, code: ErrorCode) -> None:
        self.code = code


@dataclass
class EmulatedReader:
    address: int
    terminal_id: str = ""
    capacity: int = 100_000
    blacklist_capacity: int = 100_000
    records: list[dict[str, Any]] = field(default_factory=list)
    last_seq: int = 0
    blacklist: set[str] = field(default_factory=set)
    blacklist_version: int = 0
    clock_offset: float = 0.0
    faults: int = 0
    silent: bool = False
    busy: int = 0  # answer BUSY to this many more requests
    handled: dict[int, int] = field(default_factory=dict)  # command -> requests answered
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def clock(self) -> int:
        return int(time.time() + self.clock_offset)

    # --- What happens at the reader ----------------------------------------------------

    def _append(self, record: dict[str, Any]) -> dict[str, Any]:
        if len(self.records) >= self.capacity:
            raise StorageFull(f"reader {self.address} holds {self.capacity} records")
        self.records.append(record)
        return record

    def _purse(self, card: SoftCard, kind: str, amount: int, purse: str,
               **extra: Any) -> dict[str, Any]:
        with self.lock:
            if len(self.records) >= self.capacity:
                raise StorageFull(f"reader {self.address} holds {self.capacity} records")
            seq, ts = self.last_seq + 1, self.clock()
            result = card.transact(kind, purse, amount, ts, seq, self.terminal_id)
            self.last_seq = seq
            return self._append({
                "type": kind, "terminal_seq": seq, "ts": ts, "card_no": card.card_no,
                "card_seq": result.card_seq, "purse": purse, "amount": amount,
                "balance_before": result.balance_before, "key_version": card.key_version,
                "tac": result.tac, **extra})

    def sell(self, card: SoftCard, amount: int, purse: str = MAIN) -> dict[str, Any]:
        """A purchase on the card in its field (CardError if the card refuses)."""
        return self._purse(card, PURCHASE, amount, purse)

    def cash_load(self, card: SoftCard, amount: int, purse: str = MAIN) -> dict[str, Any]:
        """Cash taken at the reader, written to the card."""
        return self._purse(card, LOAD, amount, purse, source=CASH)

    def event(self, kind: str, card_no: str, **fields: Any) -> dict[str, Any]:
        """A door or punch record."""
        with self.lock:
            seq = self.last_seq + 1
            record = {"type": kind, "terminal_seq": seq, "ts": self.clock(), "card_no": card_no,
                      **fields}
            encode_record(record)  # fail here, not at the next POLL
            self.last_seq = seq
            return self._append(record)

    # --- The bus ------------------------------------------------------------------------

    def answer(self, request: Frame) -> Frame | None:
        """The answer to a request for this reader; None when silent."""
        if self.silent:
            return None
        with self.lock:
            try:
                if self.busy:
                    self.busy -= 1
                    raise _Refused(ErrorCode.BUSY)
                payload = self._dispatch(request.command, request.payload)
            except _Refused as refused:
                return Frame(self.address, ERROR, request.seq, bytes([refused.code]))
            except RecordError:
                return Frame(self.address, ERROR, request.seq, bytes([ErrorCode.BAD_LENGTH]))
            self.handled[request.command] = self.handled.get(request.command, 0) + 1
            return Frame(self.address, request.command | ANSWER_BIT, request.seq, payload)

    def _dispatch(self, command: int, payload: bytes) -> bytes:
        if command == Command.POLL:
            _expect_empty(payload)
            return self._poll_answer()
        if command == Command.ACK:
            upto = read_u32(payload)
            self.records = [r for r in self.records if r["terminal_seq"] > upto]
            return b""
        if command == Command.SET_TIME:
            self.clock_offset = read_u32(payload) - time.time()
            return b""
        if command in (Command.BLACKLIST_ADD, Command.BLACKLIST_REMOVE):
            version, cards = decode_list_change(payload)
            if command == Command.BLACKLIST_REMOVE:
                self.blacklist.difference_update(cards)
            elif len(self.blacklist | set(cards)) > self.blacklist_capacity:
                raise _Refused(ErrorCode.STORAGE_FULL)
            else:
                self.blacklist.update(cards)
            self.blacklist_version = version
            return u32(version)
        if command == Command.BLACKLIST_CLEAR:
            self.blacklist_version = read_u32(payload)
            self.blacklist.clear()
            return u32(self.blacklist_version)
        if command == Command.STATUS:
            _expect_empty(payload)
            return Status(self.blacklist_version, min(len(self.records), 0xFFFF), self.last_seq,
                          self.faults, self.clock()).encode()
        if command == Command.SET_IDENTITY:
            terminal_id, end = read_str(payload, 0)
            if end != len(payload) or not terminal_id:
                raise RecordError("SET IDENTITY carries one string")
            self.terminal_id = terminal_id
            return b""
        raise _Refused(ErrorCode.UNKNOWN_COMMAND)

    def _poll_answer(self) -> bytes:
        """The oldest records, at most 8 and as many as fit in one payload."""
        count = min(MAX_RECORDS, len(self.records))
        while count and len(encode_poll(self.records[:count])) > MAX_PAYLOAD:
            count -= 1
        return encode_poll(self.records[:count])


def _expect_empty(payload: bytes) -> None:
    if payload:
        raise RecordError("this command has no payload")


@dataclass
class Noise:
    """Line noise: each byte is hit with probability `byte_rate` (replaced by a random
    one), and before a write, with probability `junk_rate`, 1 to 12 random bytes
    (sometimes starting with 7E, to look like a frame) are sprayed on the line."""

    byte_rate: float = 0.0
    junk_rate: float = 0.0
    seed: int | None = None
    hits: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def apply(self, data: bytes) -> bytes:
        rng, out = self._rng, bytearray()
        if rng.random() < self.junk_rate:
            junk = bytearray(rng.randbytes(rng.randint(1, 12)))
            if rng.random() < 0.5:
                junk[0] = 0x7E
            out += junk
            self.hits += 1
        for byte in data:
            if rng.random() < self.byte_rate:
                out.append(rng.randrange(256))
                self.hits += 1
            else:
                out.append(byte)
        return bytes(out)


class ReaderEmulator:
    """Answers, on `port`, every frame addressed to one of `readers`; a thread."""

    def __init__(self, port: Port, readers: Iterable[EmulatedReader], *,
                 noise: Noise | None = None) -> None:
        self.port = port
        self.readers = {r.address: r for r in readers}
        self.noise = noise
        self.frames = FrameReader()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.port.timeout = 0.02

    def __getitem__(self, address: int) -> EmulatedReader:
        return self.readers[address]

    def start(self) -> ReaderEmulator:
        self._thread = threading.Thread(target=self._run, name="reader-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReaderEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            data = self.port.read(max(1, self.port.in_waiting))
            if not data:
                self.frames.flush()
                continue
            if self.noise is not None:
                data = self.noise.apply(data)
            for frame in self.frames.feed(data):
                self.handle(frame)

    def handle(self, frame: Frame) -> None:
        reader = self.readers.get(frame.address)
        if reader is None or frame.command & ANSWER_BIT:
            return  # another reader's business, or an answer heard on the line
        answer = reader.answer(frame)
        if answer is not None:
            raw = answer.encode()
            self.port.write(self.noise.apply(raw) if self.noise is not None else raw)
            self.port.flush()


# --- pyserial's loop:// as a two-wire bus ----------------------------------------------------


class LoopLine:
    """The master's end of a `loop://` bus; `tap()` gives the readers' end. Everything
    written by either end goes into the loop (the master reads it) and to the tap."""

    def __init__(self) -> None:
        self.loop = serial.serial_for_url("loop://", timeout=0.005)
        self._heard: queue.Queue[bytes] = queue.Queue()
        self._lock = threading.Lock()

    # pyserial-like, for the Bus
    @property
    def timeout(self) -> float | None:
        return self.loop.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self.loop.timeout = value

    def write(self, data: bytes) -> int:
        with self._lock:  # one writer on the pair at a time, as on the wire
            self.loop.write(data)
            self._heard.put(bytes(data))
        return len(data)

    def flush(self) -> None:
        self.loop.flush()

    def read(self, size: int = 1) -> bytes:
        return bytes(self.loop.read(size))

    @property
    def in_waiting(self) -> int:
        return int(self.loop.in_waiting)

    def tap(self) -> _Tap:
        return _Tap(self)

    def close(self) -> None:
        self.loop.close()


class _Tap:
    """What a reader on the loop bus hears (every byte written by anyone) and says."""

    def __init__(self, line: LoopLine) -> None:
        self.line = line
        self.timeout: float | None = 0.02
        self._pending = b""

    def write(self, data: bytes) -> int:
        return self.line.write(data)

    def flush(self) -> None:
        pass

    def read(self, size: int = 1) -> bytes:
        if not self._pending:
            try:
                self._pending = self.line._heard.get(timeout=self.timeout)
            except queue.Empty:
                return b""
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    @property
    def in_waiting(self) -> int:
        return len(self._pending) + self.line._heard.qsize()


# --- A pty pair made by socat ---------------------------------------------------------------

_PTY_LINE = re.compile(r"PTY is (\S+)")


@contextmanager
def pty_pair(timeout: float = 10) -> Iterator[tuple[str, str]]:
    """Two pseudo-terminals joined by `socat -d -d pty,raw,echo=0 pty,raw,echo=0`: what
    one end writes the other reads, as over a USB RS-485 adapter and the bus. socat
    names both devices on stderr; it is stopped on exit."""
    socat = shutil.which("socat")
    if socat is None:
        raise RuntimeError("socat is needed for a pty pair (make deps installs it)")
    proc = subprocess.Popen([socat, "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    try:
        names: list[str] = []
        deadline = time.monotonic() + timeout
        while "starting data transfer loop" not in (line := proc.stderr.readline()):
            if not line or time.monotonic() > deadline:
                raise RuntimeError("socat did not start its pty pair")
            names += _PTY_LINE.findall(line)
        if len(names) != 2:
            raise RuntimeError(f"socat named {names}, not two ptys")
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # never block socat
        yield names[0], names[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
