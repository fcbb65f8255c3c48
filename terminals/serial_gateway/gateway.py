"""The serial gateway: bus master of serial-bus.md and, for every reader on the bus, a
terminal of terminal-protocol.md.

Threads, and why:

- The bus thread (`run`'s caller) owns the port. It goes round the readers: SET
  IDENTITY and SET TIME when it first reaches a reader (and again when an offline
  reader comes back, as it may have rebooted), SET TIME hourly, STATUS every
  `status_interval` (and the blacklist changes that reader lacks), then POLL. A POLL
  answer's records go into the durable store, and only then is the reader ACKed up to
  the highest of them (§4). The bus thread never waits on the server.
- One uplink thread per reader uploads what the store holds for that reader, signed
  as that reader (`TerminalClient`), forgets it up to the server's
  `highest_contiguous_seq`, and sends the reader's heartbeats. A server outage stalls
  only these threads, with back-off; the bus goes on emptying readers.
- One thread fetches blacklist deltas (signed as the first reader that the server
  accepts) into the store; the bus thread then brings each reader to that version.

Blacklist versions on the bus. A change that needs several frames (count ≤ 255 and
payload ≤ 1,024 each) carries the reader's old version in every frame but the last,
which carries the new one; a reader interrupted half way still reports its old
version, and gets the whole change again (ADD and REMOVE are idempotent). A reader
whose version the gateway cannot bring forward by deltas gets CLEAR with version 0,
then the list as ADDs, the last carrying the current version; CLEAR carries the
current version only when the list is empty.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from terminals.client import i18n
from terminals.client.http import ClientError, ProtocolError, TerminalClient, Unreachable
from terminals.serial_gateway.bus import Bus, NoAnswer, Port, ReaderError
from terminals.serial_gateway.commands import (
    Command,
    ErrorCode,
    Status,
    encode_list_change,
    fault_codes,
    read_u32,
    u32,
)
from terminals.serial_gateway.config import GatewayConfig, ReaderConfig
from terminals.serial_gateway.messages import text
from terminals.serial_gateway.records import RecordError, decode_poll, pack_str
from terminals.serial_gateway.store import BLACKLIST_VERSION, GatewayStore

OFFLINE_AFTER = 3  # failed polls in a row (serial-bus.md §4)
MAX_BACKOFF = 60.0  # seconds between tries of an offline reader
FIRST_BACKOFF = 1.0
UPLOAD_BATCH = 500
SERVER_BACKOFF = (0.5, 30.0)
IDLE_PAUSE = 0.01  # after a round in which no reader had anything
MAX_LIST_PAYLOAD = 1024 - 5  # version and count before the cards
MAX_LIST_COUNT = 255

Log = Callable[[str], None]


def list_chunks(cards: Sequence[str]) -> list[list[str]]:
    """Cards split into BLACKLIST ADD/REMOVE frames: ≤ 255 each, payload ≤ 1,024 bytes."""
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for card in cards:
        need = 1 + len(card)
        if current and (len(current) == MAX_LIST_COUNT or size + need > MAX_LIST_PAYLOAD):
            chunks.append(current)
            current, size = [], 0
        current.append(card)
        size += need
    if current:
        chunks.append(current)
    return chunks


def list_update(old: int, new: int, *, add: Sequence[str], remove: Sequence[str],
                clear: bool) -> list[tuple[Command, bytes]]:
    """The frames that take a reader from version `old` to `new`."""
    frames: list[tuple[Command, int, list[str]]] = []
    if clear:
        if not add:
            return [(Command.BLACKLIST_CLEAR, u32(new))]
        old = 0
    frames += [(Command.BLACKLIST_REMOVE, old, chunk) for chunk in list_chunks(remove)]
    frames += [(Command.BLACKLIST_ADD, old, chunk) for chunk in list_chunks(add)]
    if not frames:
        frames.append((Command.BLACKLIST_ADD, old, []))  # a new version without changes
    command, _version, chunk = frames[-1]
    frames[-1] = (command, new, chunk)
    out = [(Command.BLACKLIST_CLEAR, u32(0))] if clear else []
    return out + [(c, encode_list_change(v, cards)) for c, v, cards in frames]


@dataclass
class ReaderState:
    """What the gateway knows of one reader; the bus thread writes it, the reader's
    uplink thread reads it for heartbeats."""

    config: ReaderConfig
    client: TerminalClient
    online: bool = True
    failed_polls: int = 0
    backoff: float = 0.0
    next_try: float = 0.0
    identified: bool = False
    time_set_at: float = float("-inf")
    status_at: float = float("-inf")
    status: Status | None = None
    protocol_errors: int = 0  # since the last heartbeat
    reader_errors: Counter[int] = field(default_factory=Counter)
    received: int = 0
    uploaded: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    heartbeats: int = 0
    wake: threading.Event = field(default_factory=threading.Event)

    @property
    def address(self) -> int:
        return self.config.address

    @property
    def terminal_id(self) -> str:
        return self.config.terminal_id


class Gateway:
    def __init__(self, config: GatewayConfig, port: Port, *, baud: int = 19200,
                 log: Log | None = None, lang: str = i18n.EN,
                 clients: dict[str, TerminalClient] | None = None) -> None:
        self.config = config
        self.timings = config.timings
        self.bus = Bus(port, baud, reply_timeout=config.timings.reply_timeout_ms / 1000)
        self.store = GatewayStore(config.queue_path)
        self.lang = lang
        self._log = log or (lambda line: None)
        clients = clients or {}
        self.readers = [
            ReaderState(r, clients.get(r.terminal_id) or TerminalClient(
                config.server_url, r.terminal_id, r.secret, timeout=config.server_timeout))
            for r in config.readers]
        self.stopping = threading.Event()
        self.server_reachable: bool | None = None
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def say(self, code: str, **values: Any) -> None:
        self._log(text(code, self.lang, **values))

    # --- Running -----------------------------------------------------------------------

    def run(self) -> None:
        """The bus loop, with the uplink and blacklist threads, until `stop()`."""
        self._start_threads()
        try:
            while not self.stopping.is_set():
                if not self.bus_round():
                    self.stopping.wait(self._idle_wait())
        finally:
            self.stopping.set()
            for reader in self.readers:
                reader.wake.set()
            for thread in self._threads:
                thread.join(timeout=self.config.server_timeout + 5)
            self.store.close()

    def stop(self) -> None:
        self.stopping.set()

    @contextlib.contextmanager
    def running(self) -> Iterator[Gateway]:
        """The gateway in a background thread (tests, the benchmark)."""
        thread = threading.Thread(target=self.run, name="serial-gateway", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop()
            thread.join(timeout=30)

    def _start_threads(self) -> None:
        for reader in self.readers:
            self._spawn(f"uplink-{reader.terminal_id}", self._uplink, reader)
        self._spawn("blacklist", self._blacklist_feed)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _idle_wait(self) -> float:
        now = time.monotonic()
        waits = [r.next_try - now for r in self.readers if not r.online]
        if len(waits) == len(self.readers):
            return max(0.0, min(min(waits), 0.1))
        return IDLE_PAUSE

    # --- The bus -------------------------------------------------------------------------

    def bus_round(self) -> bool:
        """One turn of every reader due; True when any reader had records."""
        busy = False
        for reader in self.readers:
            if self.stopping.is_set():
                break
            busy |= self.serve(reader)
        return busy

    def serve(self, reader: ReaderState) -> bool:
        now = time.monotonic()
        if not reader.online and now < reader.next_try:
            return False
        try:
            if not reader.identified:
                self._identify(reader)
            elif now - reader.time_set_at >= self.timings.time_interval:
                self._set_time(reader)
            if now - reader.status_at >= self.timings.status_interval:
                self._status(reader)
            got = self._poll(reader)
        except NoAnswer:
            self._failed(reader)
            return False
        except ReaderError as exc:
            self._answered(reader)
            if exc.code != ErrorCode.BUSY:
                reader.reader_errors[exc.code] += 1
                reader.protocol_errors += 1
                self.say("reader_error", address=reader.address, terminal_id=reader.terminal_id,
                         error=exc.code, command=exc.command)
            return False
        except RecordError as exc:
            self._answered(reader)
            reader.protocol_errors += 1
            self.say("reader_bad_records", address=reader.address,
                     terminal_id=reader.terminal_id, error=exc)
            return False
        self._answered(reader)
        return got > 0

    def _exchange(self, reader: ReaderState, command: Command, payload: bytes = b"") -> bytes:
        return self.bus.exchange(reader.address, command, payload).payload

    def _identify(self, reader: ReaderState) -> None:
        self._exchange(reader, Command.SET_IDENTITY, pack_str(reader.terminal_id))
        self._set_time(reader)
        reader.identified = True
        reader.status_at = float("-inf")  # and a STATUS, with any blacklist it lacks

    def _set_time(self, reader: ReaderState) -> None:
        self._exchange(reader, Command.SET_TIME, u32(reader.client.timestamp()))
        reader.time_set_at = time.monotonic()

    def _status(self, reader: ReaderState) -> None:
        status = Status.decode(self._exchange(reader, Command.STATUS))
        reader.status = status
        reader.status_at = time.monotonic()
        self._bring_blacklist(reader, status)

    def _bring_blacklist(self, reader: ReaderState, status: Status) -> None:
        if self.store.get(BLACKLIST_VERSION) is None:
            return  # nothing fetched yet: leave the reader's list alone
        target, have = self.store.blacklist_version(), status.blacklist_version
        if have == target:
            return
        delta = self.store.blacklist_delta(have) if have else None
        if delta is None:
            frames = list_update(have, target, add=self.store.blacklist_cards(), remove=[],
                                 clear=True)
        else:
            frames = list_update(have, target, add=delta.add, remove=delta.remove, clear=False)
        for command, payload in frames:
            applied = read_u32(self._exchange(reader, command, payload))
            if applied != int.from_bytes(payload[:4], "big"):
                raise RecordError(f"the reader applied version {applied}")
        reader.status = replace(status, blacklist_version=target)

    def _poll(self, reader: ReaderState) -> int:
        records = decode_poll(self._exchange(reader, Command.POLL))
        if not records:
            return 0
        custody = self.store.take_custody(reader.terminal_id, records)
        if custody.conflicts:
            self.say("reader_conflict", address=reader.address, terminal_id=reader.terminal_id,
                     seq=", ".join(map(str, custody.conflicts)))
        with self._lock:
            reader.received += custody.stored
        reader.wake.set()
        self._exchange(reader, Command.ACK, u32(custody.highest_seq))
        return len(records)

    def _answered(self, reader: ReaderState) -> None:
        reader.failed_polls = 0
        if not reader.online:
            reader.online, reader.backoff = True, 0.0
            self.say("reader_online", address=reader.address, terminal_id=reader.terminal_id)
            reader.wake.set()  # a heartbeat says so

    def _failed(self, reader: ReaderState) -> None:
        reader.failed_polls += 1
        if reader.failed_polls < OFFLINE_AFTER:
            return
        reader.backoff = min(MAX_BACKOFF, reader.backoff * 2 if reader.backoff else FIRST_BACKOFF)
        reader.next_try = time.monotonic() + reader.backoff
        reader.identified = False  # it may come back rebooted
        if reader.online:
            reader.online = False
            self.say("reader_offline", address=reader.address, terminal_id=reader.terminal_id,
                     interval=reader.backoff)
            reader.wake.set()

    # --- The server ----------------------------------------------------------------------

    def _uplink(self, reader: ReaderState) -> None:
        backoff, next_heartbeat, was_online = 0.0, 0.0, reader.online
        while True:
            try:
                self.upload(reader)
                if time.monotonic() >= next_heartbeat or reader.online != was_online:
                    was_online = reader.online
                    self.heartbeat(reader)
                    next_heartbeat = time.monotonic() + self.timings.heartbeat_interval
                self.server_reachable, backoff = True, 0.0
            except Unreachable:
                self.server_reachable = False
                backoff = min(SERVER_BACKOFF[1], max(SERVER_BACKOFF[0], backoff * 2))
            except Exception as exc:  # a refusal, or a bug: say so, keep the thread alive
                self.say("upload_refused", terminal_id=reader.terminal_id, error=exc)
                backoff = min(SERVER_BACKOFF[1], max(SERVER_BACKOFF[0], backoff * 2))
            if self.stopping.is_set():
                return
            reader.wake.wait(backoff or self.timings.upload_interval)
            reader.wake.clear()

    def upload(self, reader: ReaderState) -> int:
        """Upload this reader's pending records until none is left or the server stops
        covering them; the number of records the server's answers covered."""
        covered = 0
        while not self.stopping.is_set():
            batch = self.store.pending(reader.terminal_id, UPLOAD_BATCH)
            if not batch:
                break
            answer = reader.client.upload(batch)  # checked: a result per record, an hcs
            done = self.store.forget_upto(reader.terminal_id, answer["highest_contiguous_seq"])
            with self._lock:
                reader.statuses.update(str(r.get("status")) for r in answer["results"])
                reader.uploaded += done
            covered += done
            if done == 0:
                break  # not contiguous on the server yet; retried on the next wake
        return covered

    def heartbeat_fields(self, reader: ReaderState,
                         conflicts: Sequence[int] = ()) -> dict[str, Any]:
        status, tid = reader.status, reader.terminal_id
        faults = []
        if not reader.online:
            faults.append({"code": "reader_offline",
                           "message": text("fault_reader_offline", self.lang,
                                           polls=reader.failed_polls)})
        for code in fault_codes(status.faults if status else 0):
            faults.append({"code": code, "message": text("fault_reader_bit", self.lang,
                                                          fault=code)})
        if reader.protocol_errors:
            faults.append({"code": "reader_protocol_error",
                           "message": text("fault_reader_protocol", self.lang,
                                           count=reader.protocol_errors)})
        for seq in conflicts:
            faults.append({"code": "record_conflict",
                           "message": text("fault_record_conflict", self.lang, seq=seq)})
        fields: dict[str, Any] = {
            "last_seq": max(status.last_seq if status else 0, self.store.last_seq(tid)),
            "queued_records": self.store.pending_count(tid)
            + (status.queued if status and reader.online else 0),
            "faults": faults,
        }
        if status is not None:
            fields["blacklist_version"] = status.blacklist_version
        return fields

    def heartbeat(self, reader: ReaderState) -> dict[str, Any]:
        conflicts = self.store.conflicts_unreported(reader.terminal_id)
        errors = reader.protocol_errors
        fields = self.heartbeat_fields(reader, [seq for _id, seq in conflicts])
        answer = reader.client.heartbeat(**fields)
        reader.protocol_errors -= errors
        self.store.conflicts_reported(i for i, _seq in conflicts)
        reader.heartbeats += 1
        return answer

    def _blacklist_feed(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(ClientError, KeyError, TypeError, ValueError):
                self.refresh_blacklist()  # a bad answer is tried again next time
            self.stopping.wait(self.timings.blacklist_interval)

    def refresh_blacklist(self) -> int:
        """Fetch the changes since the store's version, signed as the first reader the
        server accepts; readers are brought to it at their next STATUS."""
        fetched = self.store.get(BLACKLIST_VERSION) is not None
        last: ClientError | None = None
        for reader in self.readers:
            try:
                answer = reader.client.blacklist(
                    since=self.store.blacklist_version() if fetched else 0)
            except ProtocolError as exc:  # this terminal is disabled, say: try the next
                last = exc
                continue
            version = int(answer["version"])
            if version != self.store.blacklist_version() or not fetched or answer.get("full"):
                self.store.blacklist_apply(version=version, full=bool(answer.get("full")),
                                           add=answer.get("add") or [],
                                           remove=answer.get("remove") or [])
                for r in self.readers:
                    r.status_at = float("-inf")  # every reader, at its next turn
            return version
        raise last or ClientError("no reader to fetch the blacklist as")

    # --- Figures -------------------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        with self._lock:
            statuses: Counter[str] = Counter()
            for r in self.readers:
                statuses.update(r.statuses)
            return {
                "received": sum(r.received for r in self.readers),
                "uploaded": sum(r.uploaded for r in self.readers),
                "pending": self.store.pending_count(),
                "online": sum(r.online for r in self.readers),
                "readers": len(self.readers),
                "statuses": dict(statuses),
                "bus": self.bus.counters.as_dict(),
            }

    def progress_line(self) -> str:
        f = self.figures()
        bus = f["bus"]
        server = text("server_up" if self.server_reachable is not False else "server_down",
                      self.lang)
        return text("gateway_progress", self.lang, received=f["received"],
                    uploaded=f["uploaded"], pending=f["pending"], online=f["online"],
                    readers=f["readers"], dropped=bus["corrupt"] + bus["mismatched"],
                    server=server)
