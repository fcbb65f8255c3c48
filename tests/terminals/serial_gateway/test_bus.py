"""One exchange on the bus (serial-bus.md §2, §4), on pyserial's `loop://` made a
two-wire line (`LoopLine`: the master hears its own request, then the answer). The
answers here are scripted byte for byte, so each kind of bad frame is seen alone:
corrupt, truncated, another seq, another address, an error answer, silence, and a
long answer at a low baud rate that a fixed timeout would cut short."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from terminals.client.serialbus import Frame, FrameReader
from terminals.serial_gateway.bus import Bus, NoAnswer, ReaderError
from terminals.serial_gateway.commands import Command, ErrorCode, Status
from terminals.serial_gateway.emulator import EmulatedReader, LoopLine, ReaderEmulator

pytestmark = pytest.mark.hardware

Script = Callable[[Frame], bytes]


class Scripted:
    """A reader that answers the n-th request with script[n](request)."""

    def __init__(self, line: LoopLine, script: list[Script]) -> None:
        self.tap, self.script = line.tap(), list(script)
        self.heard: list[Frame] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        frames = FrameReader()
        while not self._stop.is_set():
            for frame in frames.feed(self.tap.read(max(1, self.tap.in_waiting))):
                if frame.command & 0x80 or not self.script:
                    continue
                self.heard.append(frame)
                self.tap.write(self.script.pop(0)(frame))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def answer(request: Frame, payload: bytes = b"", **change: int) -> Frame:
    fields = {"address": request.address, "command": request.command | 0x80,
              "seq": request.seq, **change}
    return Frame(fields["address"], fields["command"], fields["seq"], payload)


STATUS = Status(blacklist_version=4, queued=2, last_seq=9, faults=0, clock=1_800_000_000)


def good(request: Frame) -> bytes:
    return answer(request, STATUS.encode()).encode()


def corrupt(request: Frame) -> bytes:
    raw = bytearray(good(request))
    raw[-1] ^= 0x55
    return bytes(raw)


def truncated_then_good(request: Frame) -> bytes:
    return good(request)[:9] + good(request)


@pytest.fixture
def line() -> Iterator[LoopLine]:
    line = LoopLine()
    yield line
    line.close()


def test_the_answer_is_found_behind_the_masters_own_echo(line: LoopLine) -> None:
    with ReaderEmulator(line.tap(), [EmulatedReader(3, "POS-0003", last_seq=9)]):
        bus = Bus(line)
        got = Status.decode(bus.exchange(3, Command.STATUS).payload)
    assert got.last_seq == 9
    assert (bus.counters.echoes, bus.counters.retries, bus.counters.corrupt) == (1, 0, 0)


def test_corrupt_truncated_and_mismatched_frames_are_dropped_and_counted(
        line: LoopLine) -> None:
    reader = Scripted(line, [
        corrupt,
        lambda r: answer(r, STATUS.encode(), seq=(r.seq + 1) % 256).encode()
        + answer(r, STATUS.encode(), address=4).encode(),
        truncated_then_good,
    ])
    bus = Bus(line)
    got = Status.decode(bus.exchange(3, Command.STATUS).payload)
    reader.stop()
    assert got == STATUS
    c = bus.counters
    assert (c.requests, c.retries, c.timeouts) == (3, 2, 2)
    assert c.mismatched == 2  # the wrong seq and the wrong address
    assert c.corrupt == 2  # the bad CRC and the truncated frame before the good one
    assert [f.seq for f in reader.heard] == [1, 2, 3]  # a fresh seq for every attempt


def test_a_silent_reader_is_tried_three_times_then_given_up(line: LoopLine) -> None:
    bus = Bus(line, baud=19200)
    started = time.monotonic()
    with pytest.raises(NoAnswer):
        bus.exchange(5, Command.POLL)
    elapsed = time.monotonic() - started
    assert (bus.counters.requests, bus.counters.failed) == (3, 1)
    assert 0.3 <= elapsed < 1.0  # three windows of 100 ms plus the request's own time


def test_an_error_answer_is_raised_with_its_code(line: LoopLine) -> None:
    reader = Scripted(line, [lambda r: Frame(r.address, 0xFF, r.seq, b"\x03").encode()])
    bus = Bus(line)
    with pytest.raises(ReaderError) as raised:
        bus.exchange(3, Command.POLL)
    reader.stop()
    assert raised.value.code == ErrorCode.BUSY and bus.counters.retries == 0


def test_the_emulator_answers_unknown_commands_and_bad_lengths_with_errors(
        line: LoopLine) -> None:
    with ReaderEmulator(line.tap(), [EmulatedReader(3, "POS-0003")]):
        bus = Bus(line)
        for command, payload, code in [(0x42, b"", ErrorCode.UNKNOWN_COMMAND),
                                       (Command.ACK, b"\x01", ErrorCode.BAD_LENGTH),
                                       (Command.POLL, b"\x00", ErrorCode.BAD_LENGTH)]:
            with pytest.raises(ReaderError) as raised:
                bus.exchange(3, command, payload)
            assert raised.value.code == code


def test_a_long_answer_at_9600_baud_is_waited_for_not_cut_short(line: LoopLine) -> None:
    """1,032 bytes take 1.07 s at 9,600 baud: the reader starts within 100 ms and the
    master waits as long as the frame's length says."""

    def trickle(request: Frame) -> bytes:
        raw = answer(request, bytes(1024)).encode()
        tap = reader.tap
        time.sleep(0.05)
        for i in range(0, len(raw) - 16, 16):  # 16 bytes every 16.7 ms: 9,600 baud
            tap.write(raw[i:i + 16])
            time.sleep(16 * 10 / 9600)
        return raw[i + 16:]

    reader = Scripted(line, [trickle])
    bus = Bus(line, baud=9600)
    started = time.monotonic()
    got = bus.exchange(3, Command.POLL)
    reader.stop()
    assert len(got.payload) == 1024 and bus.counters.retries == 0
    assert time.monotonic() - started > 1.0
