"""The gateway's bus side on a `loop://` two-wire line, with the reader emulator on the
same line; no server (its address refuses connections): custody before the ACK,
records that do not follow the contract left unacknowledged, readers going offline
with back-off and coming back, and blacklist updates frame by frame."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminals.client.card import SoftCard
from terminals.client.serialbus import Frame
from terminals.serial_gateway.commands import Command
from terminals.serial_gateway.config import GatewayConfig, ReaderConfig
from terminals.serial_gateway.emulator import EmulatedReader, LoopLine, Noise, ReaderEmulator
from terminals.serial_gateway.gateway import MAX_BACKOFF, Gateway, list_update
from terminals.serial_gateway.store import GatewayStore
from tests.terminals.serial_gateway.conftest import FAST

pytestmark = pytest.mark.hardware

NOWHERE = "http://127.0.0.1:9"  # discard port: nobody answers HTTP there


class LoggingReader(EmulatedReader):
    """Remembers every blacklist frame (command, version, cards) and can fall silent
    after a number of them."""

    def __init__(self, *args, silent_after: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.list_frames: list[tuple[int, int, int]] = []
        self.silent_after = silent_after

    def answer(self, request: Frame) -> Frame | None:
        if Command.BLACKLIST_ADD <= request.command <= Command.BLACKLIST_CLEAR:
            if self.silent_after is not None and len(self.list_frames) >= self.silent_after:
                self.silent = True
            else:
                count = request.payload[4] if len(request.payload) > 4 else 0
                self.list_frames.append((request.command,
                                         int.from_bytes(request.payload[:4], "big"), count))
        return super().answer(request)


def card(n: int = 1) -> SoftCard:
    soft = SoftCard.new()
    soft.personalise(1, bytes(16), f"2026{n:04d}")
    return soft


def gateway_for(readers: list[EmulatedReader], queue: Path, line: LoopLine) -> Gateway:
    config = GatewayConfig(NOWHERE, queue, [ReaderConfig(r.address, r.terminal_id, "ab" * 32)
                                            for r in readers], FAST, server_timeout=1)
    return Gateway(config, line)


@pytest.fixture
def line() -> Iterator[LoopLine]:
    line = LoopLine()
    yield line
    line.close()


def test_records_are_acknowledged_only_once_in_the_store(line: LoopLine, tmp_path: Path) -> None:
    reader = EmulatedReader(3, "POS-0003")
    soft = card()
    reader.cash_load(soft, 10_000)
    for _ in range(20):
        reader.sell(soft, 150)
    gateway = gateway_for([reader], tmp_path / "q.sqlite3", line)
    # Say the reader came back from repair with another identity and a wrong clock.
    reader.terminal_id, reader.clock_offset = "FACTORY-0", -86_400.0
    with ReaderEmulator(line.tap(), [reader]):
        while gateway.serve(gateway.readers[0]):
            pass
        gateway.store.close()
    assert reader.records == [] and reader.last_seq == 21
    assert reader.terminal_id == "POS-0003", "SET IDENTITY at start"
    assert reader.handled[Command.SET_IDENTITY] == reader.handled[Command.SET_TIME] == 1
    assert abs(reader.clock() - time.time()) < 5, "SET TIME at start"
    with GatewayStore(tmp_path / "q.sqlite3") as store:
        held = store.pending("POS-0003")
    assert [r["terminal_seq"] for r in held] == list(range(1, 22))
    assert held[0]["source"] == "cash" and held[1]["type"] == "purchase"
    assert held[-1]["balance_before"] == 10_000 - 19 * 150


def test_noise_on_the_line_loses_nothing_and_stores_nothing_twice(
        line: LoopLine, tmp_path: Path) -> None:
    readers = [EmulatedReader(a, f"POS-{a:04d}") for a in (1, 2, 3, 4)]
    soft = card()
    readers[0].cash_load(soft, 500_000)
    for reader in readers:
        for _ in range(40):
            reader.sell(soft, 100)
    noise = Noise(byte_rate=0.002, junk_rate=0.1, seed=11)
    with ReaderEmulator(line.tap(), readers, noise=noise):
        gateway = gateway_for(readers, tmp_path / "q.sqlite3", line)
        for _ in range(300):
            gateway.bus_round()
            if not any(r.records for r in readers):
                break
        counters = gateway.bus.counters
        held = {r.terminal_id: gateway.store.pending(r.terminal_id) for r in readers}
        gateway.store.close()
    assert not any(r.records for r in readers)
    for reader in readers:
        assert [r["terminal_seq"] for r in held[reader.terminal_id]] == \
            list(range(1, reader.last_seq + 1))
    assert noise.hits > 20 and counters.corrupt + counters.timeouts > 5


def test_a_payload_that_is_not_records_is_not_acknowledged(line: LoopLine,
                                                           tmp_path: Path) -> None:
    class Garbled(EmulatedReader):
        def _poll_answer(self) -> bytes:
            return b"\x01\x09garbage"

    reader = Garbled(3, "POS-0003")
    reader.event("punch", "20260001")
    with ReaderEmulator(line.tap(), [reader]):
        gateway = gateway_for([reader], tmp_path / "q.sqlite3", line)
        gateway.serve(gateway.readers[0])
        assert gateway.store.pending_count() == 0
        assert gateway.readers[0].protocol_errors == 1 and gateway.readers[0].online
        faults = gateway.heartbeat_fields(gateway.readers[0])["faults"]
        gateway.store.close()
    assert len(reader.records) == 1  # still on the reader: nothing was ACKed
    assert [f["code"] for f in faults] == ["reader_protocol_error"]


def test_a_silent_reader_goes_offline_is_polled_less_often_and_comes_back(
        line: LoopLine, tmp_path: Path) -> None:
    reader = EmulatedReader(7, "POS-0007", faults=0b1001)
    with ReaderEmulator(line.tap(), [reader]):
        gateway = gateway_for([reader], tmp_path / "q.sqlite3", line)
        state = gateway.readers[0]
        gateway.serve(state)
        assert state.online and reader.handled[Command.SET_IDENTITY] == 1
        faults = [f["code"] for f in gateway.heartbeat_fields(state)["faults"]]
        assert faults == ["reader_storage_full", "reader_tamper"]

        reader.silent = True
        for _ in range(3):
            gateway.serve(state)
        assert not state.online and state.backoff == 1.0
        fields = gateway.heartbeat_fields(state)
        assert "reader_offline" in [f["code"] for f in fields["faults"]]
        assert gateway.serve(state) is False and state.backoff == 1.0  # not due yet
        for expected in (2.0, 4.0, 8.0):
            state.next_try = 0
            gateway.serve(state)
            assert state.backoff == expected
        state.backoff = 48.0
        state.next_try = 0
        gateway.serve(state)
        assert state.backoff == MAX_BACKOFF

        reader.silent = False
        reader.event("punch", "20260001")
        state.next_try = 0
        assert gateway.serve(state)
        assert state.online and reader.handled[Command.SET_IDENTITY] == 2  # told again
        assert "reader_offline" not in [f["code"] for f in
                                        gateway.heartbeat_fields(state)["faults"]]
        gateway.store.close()


def test_list_updates_fit_the_frame_and_only_the_last_frame_carries_the_new_version() -> None:
    cards = [f"{n:019d}" for n in range(300)]
    frames = list_update(5, 9, add=cards, remove=["20260001"], clear=False)
    versions = [int.from_bytes(p[:4], "big") for _c, p in frames]
    assert [c for c, _p in frames] == [Command.BLACKLIST_REMOVE] + [Command.BLACKLIST_ADD] * 6
    assert versions == [5] * 6 + [9]
    assert all(len(p) <= 1024 and p[4] <= 255 for _c, p in frames)
    assert sum(p[4] for _c, p in frames[1:]) == 300
    clear = list_update(5, 9, add=cards[:3], remove=[], clear=True)
    assert [(c, int.from_bytes(p[:4], "big")) for c, p in clear] == [
        (Command.BLACKLIST_CLEAR, 0), (Command.BLACKLIST_ADD, 9)]
    assert list_update(5, 9, add=[], remove=[], clear=True) == [
        (Command.BLACKLIST_CLEAR, (9).to_bytes(4, "big"))]


def test_a_reader_gets_the_changes_it_lacks_and_an_interrupted_update_is_redone(
        line: LoopLine, tmp_path: Path) -> None:
    listed = [f"2026{n:06d}" for n in range(200)]
    behind = LoggingReader(1, "POS-0001")  # version 0: CLEAR and the whole list
    near = LoggingReader(2, "POS-0002", blacklist_version=40,
                         blacklist=set(listed[:150]))  # gets the delta 40 -> 41
    flaky = LoggingReader(3, "POS-0003", silent_after=2)  # drops out half way
    with ReaderEmulator(line.tap(), [behind, near, flaky]):
        gateway = gateway_for([behind, near, flaky], tmp_path / "q.sqlite3", line)
        gateway.store.blacklist_apply(version=40, full=True, add=listed[:150], remove=[])
        gateway.store.blacklist_apply(version=41, full=False, add=listed[150:],
                                      remove=listed[:2])
        gateway.bus_round()
        assert behind.blacklist == near.blacklist == set(listed[2:])
        assert behind.blacklist_version == near.blacklist_version == 41
        assert behind.list_frames[0] == (Command.BLACKLIST_CLEAR, 0, 0)
        # CLEAR, then 198 cards in three ADDs, only the last with the new version
        assert [v for _c, v, _n in behind.list_frames] == [0] * 3 + [41]
        assert near.list_frames == [(Command.BLACKLIST_REMOVE, 40, 2),
                                    (Command.BLACKLIST_ADD, 41, 50)]
        assert flaky.blacklist_version == 0 and len(flaky.blacklist) > 0  # interrupted

        flaky.silent, flaky.silent_after = False, None
        state = gateway.readers[2]
        for _ in range(10):
            state.next_try = 0
            gateway.serve(state)
            if flaky.blacklist_version == 41:
                break
        assert flaky.blacklist == set(listed[2:])
        assert gateway.heartbeat_fields(state)["blacklist_version"] == 41
        gateway.store.close()
