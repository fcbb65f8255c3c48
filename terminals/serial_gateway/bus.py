"""The bus master's side of one exchange (serial-bus.md §1-§2): send a request, wait
for the answer carrying its address and seq, retry twice, give up.

The port is anything pyserial-like (`write`, `flush`, `read`, `in_waiting`,
`timeout`): a `serial.Serial` on a real line or a pty, or `serial_for_url("loop://")`.

Waiting for an answer. A reader must start answering within 100 ms of the request;
the gateway writes the request into an OS buffer, so the window starts when the last
request byte can have left the wire: `transmit(request) + reply_timeout`. Once a
frame header has arrived its length says how long the rest takes at the baud rate,
and the deadline moves out by that much plus `slack` (scheduling jitter on the
gateway's host). With a 1,024-byte payload at 9,600 baud that is over a second, which
a fixed timeout would have cut short.

Every frame that is not the answer is dropped and counted: corrupt or truncated ones
(the FrameReader's count), our own request heard back on a two-wire line (`echoes`),
and frames of another address or seq, e.g. a late answer to an earlier attempt
(`mismatched`). Each attempt takes a fresh seq, so a late answer can never pass for
the answer to its retry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from terminals.client.serialbus import ERROR, HEADER, Frame, FrameReader

REPLY_TIMEOUT = 0.100  # serial-bus.md §1
SLACK = 0.030
RETRIES = 2  # serial-bus.md §4
READ_TICK = 0.005  # the port's read timeout: how often the wait loop looks at the clock
FRAME_OVERHEAD = HEADER + 2  # header and CRC around the payload


class Port(Protocol):
    timeout: float | None

    def write(self, data: bytes, /) -> int | None: ...

    def flush(self) -> None: ...

    def read(self, size: int = 1, /) -> bytes: ...

    @property
    def in_waiting(self) -> int: ...


class NoAnswer(Exception):
    """No valid answer after the retries."""


class ReaderError(Exception):
    """The reader answered `FF` with an error code."""

    def __init__(self, code: int, command: int) -> None:
        super().__init__(f"reader error {code:02x} to command {command:02x}")
        self.code = code
        self.command = command


@dataclass
class BusCounters:
    requests: int = 0  # attempts sent, retries included
    answers: int = 0
    retries: int = 0
    timeouts: int = 0
    echoes: int = 0
    mismatched: int = 0
    errors: int = 0  # FF answers
    failed: int = 0  # requests that got no valid answer after the retries
    bytes_sent: int = 0
    bytes_received: int = 0
    corrupt: int = 0  # frames the FrameReader dropped (corrupt, truncated, noise)

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Bus:
    port: Port
    baud: int = 19200
    reply_timeout: float = REPLY_TIMEOUT
    slack: float = SLACK
    retries: int = RETRIES
    counters: BusCounters = field(default_factory=BusCounters)

    def __post_init__(self) -> None:
        self.port.timeout = READ_TICK
        self._reader = FrameReader()
        self._seq = 0

    def transmit_time(self, nbytes: int) -> float:
        """Seconds `nbytes` take on the line: 10 bits each (start, 8 data, stop)."""
        return nbytes * 10 / self.baud

    def exchange(self, address: int, command: int, payload: bytes = b"") -> Frame:
        """The reader's answer to the request; NoAnswer after the retries, ReaderError
        for an `FF` answer (a valid answer: the reader is there)."""
        for attempt in range(self.retries + 1):
            if attempt:
                self.counters.retries += 1
            self._seq = (self._seq + 1) % 256
            request = Frame(address, command, self._seq, payload)
            answer = self._attempt(request)
            if answer is None:
                continue
            self.counters.answers += 1
            if answer.command == ERROR:
                self.counters.errors += 1
                raise ReaderError(answer.payload[0] if answer.payload else 0, command)
            return answer
        self.counters.failed += 1
        raise NoAnswer(f"no answer from reader {address} to command {command:02x}")

    def _attempt(self, request: Frame) -> Frame | None:
        self._discard_stale()
        raw = request.encode()
        self.port.write(raw)
        self.port.flush()
        self.counters.requests += 1
        self.counters.bytes_sent += len(raw)
        deadline = time.monotonic() + self.transmit_time(len(raw)) + self.reply_timeout
        while True:
            data = self.port.read(max(1, self.port.in_waiting))
            now = time.monotonic()
            if data:
                self.counters.bytes_received += len(data)
                for frame in self._frames(data):
                    if frame.is_answer_to(request):
                        return frame
                    self._count_other(frame, request)
                deadline = max(deadline, self._rest_of_frame(now))
            elif now >= deadline:
                break
        for frame in self._flush():  # the line went quiet: a truncated frame is dropped
            if frame.is_answer_to(request):
                return frame
            self._count_other(frame, request)
        self.counters.timeouts += 1
        return None

    def _rest_of_frame(self, now: float) -> float:
        """When the frame whose bytes are arriving will have come in whole."""
        buffered = self._reader.buffer
        if len(buffered) < HEADER:
            return now + self.transmit_time(HEADER) + self.slack
        length = int.from_bytes(buffered[4:6], "big")
        missing = max(0, HEADER + length + 2 - len(buffered))
        return now + self.transmit_time(missing) + self.slack

    def _count_other(self, frame: Frame, request: Frame) -> None:
        if frame == request or (frame.address, frame.command) == (request.address,
                                                                   request.command):
            self.counters.echoes += 1  # our own request (or an earlier one) heard back
        else:
            self.counters.mismatched += 1

    def _frames(self, data: bytes) -> list[Frame]:
        frames = self._reader.feed(data)
        self.counters.corrupt = self._reader.dropped
        return frames

    def _flush(self) -> list[Frame]:
        frames = self._reader.flush()
        self.counters.corrupt = self._reader.dropped
        return frames

    def _discard_stale(self) -> None:
        """Bytes that came after the last exchange ended belong to no request now."""
        waiting = self.port.in_waiting
        if waiting:
            data = self.port.read(waiting)
            self.counters.bytes_received += len(data)
            for _frame in self._frames(data):
                self.counters.mismatched += 1
        for _frame in self._flush():
            self.counters.mismatched += 1
