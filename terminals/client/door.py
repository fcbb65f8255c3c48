"""`DoorTerminal`: a door controller. It holds its access list (`access.AccessList`,
kept in its queue so it survives a restart), polls it with `since=<version held>`,
decides every card at every door offline from what it holds, queues a `door` record
for each decision and reports the version it applied in its heartbeat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from terminals.client.access import AccessList, Decision, DoorBlock, Passages
from terminals.client.http import TerminalClient
from terminals.client.queue import RecordQueue
from terminals.client.terminal import SyncReport, Terminal

ACCESS_LIST_KEY = "access_list"
PASSAGES_KEY = "door_passages"
DOOR = "door"


@dataclass(frozen=True)
class Presentation:
    """A card at a door: the decision, the record queued for it, and what the controller
    held when it decided."""

    card_no: str
    door: int
    ts: int
    decision: Decision
    record: dict[str, Any]
    list_version: int
    blacklist_version: int
    queued_before: int  # records not yet on the server when it decided
    block: DoorBlock


@dataclass(frozen=True)
class ListRefresh:
    version: int
    full: bool
    grants: int
    revoked: int


class DoorTerminal(Terminal):
    kind = DOOR

    def __init__(self, client: TerminalClient, queue: RecordQueue, *, doors: int,
                 time_zone: str = "Asia/Shanghai", **kwargs: Any) -> None:
        super().__init__(client, queue, **kwargs)
        if doors < 1:
            raise ValueError("a door controller has at least one door")
        self.doors = doors
        self.access = AccessList.from_json(queue.get(ACCESS_LIST_KEY), time_zone)
        self.passages = Passages.from_json(queue.get(PASSAGES_KEY))
        self.last_refresh: ListRefresh | None = None

    @property
    def access_list_version(self) -> int:
        return self.access.version

    # --- The list ---------------------------------------------------------------------------

    def refresh_access_list(self) -> ListRefresh:
        """Fetch the changes since the version held (the whole list when the server says
        so), apply them and keep the result."""
        answer = self.client.access_list(since=self.access.version)
        self.access.apply(answer)
        self.queue.put(ACCESS_LIST_KEY, self.access.as_json())
        self.last_refresh = ListRefresh(
            version=self.access.version, full=bool(answer.get("full")),
            grants=len(answer.get("grants") or ()), revoked=len(answer.get("revoke") or ()))
        return self.last_refresh

    def sync(self) -> SyncReport:
        """Upload, then the access list (so the heartbeat reports the version just
        applied), then the blacklist, config and heartbeat as every terminal."""
        self.upload_pending()
        self.refresh_access_list()
        return super().sync()

    def heartbeat_fields(self) -> dict[str, Any]:
        return {**super().heartbeat_fields(), "access_list_version": self.access.version}

    # --- At the door -------------------------------------------------------------------------

    def decide(self, card_no: str, door: int, ts: int) -> Decision:
        return self.access.decide(card_no, door, ts, blacklisted=self.blacklisted(card_no),
                                  passages=self.passages)

    def present(self, card_no: str, door: int, ts: int | None = None) -> Presentation:
        """A card at a door: decided offline from the list held, recorded, remembered."""
        if not 1 <= door <= self.doors:
            raise ValueError(f"door {door}: this controller has doors 1 to {self.doors}")
        ts = self.now() if ts is None else ts
        queued_before = self.queue.count()
        block = self.access.door(door)
        decision = self.decide(card_no, door, ts)
        record: dict[str, Any] = {
            "type": DOOR, "terminal_seq": self.queue.next_seq(), "ts": ts, "card_no": card_no,
            "door": door, "result": "granted" if decision.granted else "denied",
            "reason": decision.reason,
        }
        if block.direction is not None:
            record["direction"] = block.direction
        self.queue.append(record)
        if decision.granted:
            self.passages.remember(card_no, door, block, self.access.local(ts), decision)
            self.queue.put(PASSAGES_KEY, self.passages.as_json())
        return Presentation(card_no=card_no, door=door, ts=ts, decision=decision, record=record,
                            list_version=self.access.version,
                            blacklist_version=self.queue.blacklist_version(),
                            queued_before=queued_before, block=block)
