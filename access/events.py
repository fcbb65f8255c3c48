"""Door records become door events: every accepted `door` record a controller uploads is
projected once (AccessEvent.record is unique) into who, which door, granted or denied and
why, the direction, the moment, and the access-list version the controller held then.

Two judgements are made for security, from what the server holds:

- `revoked_card_let_in`: a granted passage (not an exit) by a card whose grant on this
  controller had been revoked, at that moment, by a list version the controller had not
  applied yet (its last heartbeat before the passage reported an older version). The
  controller followed its list; the list was late.
- `antipassback_soft`: a granted entry at a door of a `soft` anti-passback area whose
  holder's previous granted passage in the area was an entry too.

Records arrive late and out of order (controllers work offline), so passages are
judged in the order they happened: by the controller's time. The ingest projects each
batch in its transaction (`door_records_project`); `door_records_project_pending` catches
up on any accepted record still without an event (records stored before access control
existed, or while the hook was not connected)."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from access.models import (
    AccessEvent,
    AccessListChange,
    AntipassbackMode,
    ChangeKind,
    DenyReason,
    Door,
    DoorDirection,
    EventFlag,
)
from access.services import doors_register
from accounts.selectors import cards_by_id
from terminals.models import Terminal, TerminalRecord
from terminals.selectors import access_list_versions_applied, door_records_accepted

# Records projected per transaction by the catch-up.
CHUNK = 1000


def record_moment(record: TerminalRecord) -> dt.datetime:
    """The controller's time of the passage; its arrival when the time is past what a
    date can hold (an accepted record from a wild clock is flagged clock_skew at ingest)."""
    try:
        return dt.datetime.fromtimestamp(int(record.ts or 0), dt.UTC)
    except (OverflowError, OSError, ValueError):
        return record.received_at


@dataclass
class _Controller:
    """What judging one controller's records needs, read once per batch."""

    doors: dict[int, Door]
    beats: list[tuple[dt.datetime, int]]
    # card_no -> [(at, version, kind)] of its change-log lines, oldest first
    changes: dict[str, list[tuple[dt.datetime, int, str]]]

    def version_held(self, at: dt.datetime) -> int | None:
        i = bisect.bisect_right(self.beats, at, key=lambda beat: beat[0])
        return self.beats[i - 1][1] if i else None

    def revoked_unseen(self, card_no: str, at: dt.datetime, held: int | None) -> bool:
        lines = self.changes.get(card_no, [])
        i = bisect.bisect_right(lines, at, key=lambda line: line[0])
        if not i:
            return False
        _at, version, kind = lines[i - 1]
        return kind == ChangeKind.REVOKE and version > (held or 0)


def _controller(terminal: Terminal, records: list[TerminalRecord]) -> _Controller:
    doors = {d.number: d for d in Door.objects.filter(controller=terminal).select_related("area")}
    if any(int(r.raw.get("door", 0)) not in doors for r in records):
        # A controller registered before access control had no doors made for it.
        doors_register(controller=terminal)
        doors = {d.number: d for d in
                 Door.objects.filter(controller=terminal).select_related("area")}
    moments = [record_moment(r) for r in records]
    beats = access_list_versions_applied(terminal, min(moments), max(moments))
    changes: dict[str, list[tuple[dt.datetime, int, str]]] = defaultdict(list)
    lines = (AccessListChange.objects
             .filter(controller=terminal, card_no__in={r.card_no for r in records},
                     at__lte=max(moments))
             .order_by("at", "version").values_list("card_no", "at", "version", "kind"))
    for card_no, at, version, kind in lines:
        changes[card_no].append((at, version, kind))
    return _Controller(doors=doors, beats=beats, changes=changes)


@dataclass
class _Passages:
    """Each holder's granted passages with a direction, per area, as far as the batch has
    gone, beside those already stored: what anti-passback judges a new entry by."""

    batch: dict[tuple[int, int], list[tuple[dt.datetime, str]]] = field(
        default_factory=lambda: defaultdict(list))

    def previous(self, area_id: int, holder_id: int, at: dt.datetime) -> str | None:
        stored = (AccessEvent.objects
                  .filter(area_id=area_id, cardholder_id=holder_id, granted=True,
                          direction__isnull=False, ts__lt=at)
                  .order_by("-ts", "-id").values_list("ts", "direction").first())
        earlier = [p for p in self.batch[(area_id, holder_id)] if p[0] < at]
        candidates = [*([stored] if stored else []), *earlier]
        return max(candidates, key=lambda p: p[0])[1] if candidates else None

    def add(self, event: AccessEvent) -> None:
        if event.granted and event.direction and event.area_id and event.cardholder_id:
            self.batch[(event.area_id, event.cardholder_id)].append((event.ts, event.direction))


def _direction(record: TerminalRecord, door: Door) -> str | None:
    said = record.raw.get("direction")
    return said if said in DoorDirection.values else door.direction


def _event(record: TerminalRecord, door: Door, holder_id: int | None, ctl: _Controller,
           passages: _Passages) -> AccessEvent:
    granted = record.raw.get("result") == "granted"
    reason = record.raw.get("reason")
    at = record_moment(record)
    event = AccessEvent(
        record=record, door=door, area=door.area, cardholder_id=holder_id,
        card_no=record.card_no, granted=granted,
        reason="" if granted or reason not in DenyReason.values else reason,
        direction=_direction(record, door), ts=at, received_at=record.received_at,
        list_version_held=ctl.version_held(at))
    if not granted:
        return event
    if event.direction != DoorDirection.EXIT and ctl.revoked_unseen(
            record.card_no, at, event.list_version_held):
        event.flagged, event.flag_reason = True, EventFlag.REVOKED_CARD_LET_IN
    elif (event.direction == DoorDirection.ENTRY and door.area is not None
          and door.area.antipassback == AntipassbackMode.SOFT and holder_id is not None
          and passages.previous(door.area.pk, holder_id, at) == DoorDirection.ENTRY):
        event.flagged, event.flag_reason = True, EventFlag.ANTIPASSBACK_SOFT
    return event


@transaction.atomic
def door_records_project(records: Iterable[TerminalRecord]) -> list[AccessEvent]:
    """Door events for these accepted `door` records, judged in the order the passages
    happened. A record already projected is left as it is (and not returned); a record
    naming a door its controller does not have makes no event."""
    records = list(records)
    done = set(AccessEvent.objects.filter(record__in=[r.pk for r in records])
               .values_list("record_id", flat=True))
    todo = sorted((r for r in records if r.pk not in done),
                  key=lambda r: (record_moment(r), r.terminal_id, r.terminal_seq))
    if not todo:
        return []
    by_terminal: dict[int, list[TerminalRecord]] = defaultdict(list)
    for r in todo:
        by_terminal[r.terminal_id].append(r)
    controllers = {pk: _controller(rs[0].terminal, rs) for pk, rs in by_terminal.items()}
    cards = cards_by_id({r.card_id for r in todo if r.card_id is not None})
    passages, events = _Passages(), []
    for r in todo:
        ctl = controllers[r.terminal_id]
        door = ctl.doors.get(int(r.raw.get("door", 0)))
        if door is None:
            continue
        card = cards.get(r.card_id) if r.card_id is not None else None
        event = _event(r, door, card.cardholder_id if card else None, ctl, passages)
        passages.add(event)
        events.append(event)
    # A record projected meanwhile by another process keeps its first event.
    AccessEvent.objects.bulk_create(events, ignore_conflicts=True)
    return events


def door_record_project(record: TerminalRecord) -> AccessEvent | None:
    """The door event of one accepted `door` record, made if it is not there yet."""
    door_records_project([record])
    return AccessEvent.objects.filter(record=record).first()


def door_records_of_batch(*, terminal: Terminal, seqs: Collection[int]) -> list[AccessEvent]:
    """The ingest's call, in its transaction: the batch's accepted records, by seq (the
    others in `seqs`, any type, are ignored)."""
    return door_records_project(list(door_records_accepted(terminal=terminal, seqs=seqs)))


def door_records_project_pending(*, chunk: int = CHUNK) -> int:
    """Project every accepted `door` record that has no event yet, oldest passage first,
    `chunk` records per transaction; returns the number of events made."""
    made, after = 0, None
    while True:
        pending = door_records_accepted().filter(access_event__isnull=True)
        if after is not None:
            ts, terminal_id, seq = after
            pending = pending.filter(Q(ts__gt=ts) | Q(ts=ts, terminal_id__gt=terminal_id)
                                     | Q(ts=ts, terminal_id=terminal_id, terminal_seq__gt=seq))
        rows = list(pending[:chunk])
        if not rows:
            return made
        made += len(door_records_project(rows))
        last = rows[-1]
        after = (last.ts, last.terminal_id, last.terminal_seq)
