"""Door records become door events: every accepted `door` record a controller uploads is
projected once (AccessEvent.record is unique) into who, which door, granted or denied and
why, the direction, the moment, and the access-list version the controller held then.

Three judgements are made for security, from what the server holds:

- `revoked_card_let_in`: a granted passage (not an exit) by a card whose grant on this
  controller had been revoked, at that moment, by a list version the controller had not
  applied yet (its last heartbeat before the passage reported an older version). The
  controller followed its list; the list was late.
- `decision_differs`: the controller held, for this card, exactly the list access-check
  answers from, and access-check grants where it denied or denies where it granted: the
  decision did not come from its list.
- `antipassback_soft`: a granted entry at a door of a `soft` anti-passback area whose
  holder's previous granted passage in the area was an entry too.

Records arrive late and out of order (controllers work offline), so passages are
judged in the order they happened: by the controller's time. A passage that arrives
after later ones of the same holder in a soft area judges those again. The ingest
projects each batch in its transaction (`door_records_project`);
`door_records_project_pending` catches up on any accepted record still without an event
(records stored before access control existed, or while the hook was not connected)."""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max, OuterRef, Q, Subquery

from access.decide import Decision
from access.models import (
    AccessEvent,
    AccessListChange,
    AntipassbackMode,
    ChangeKind,
    ControllerListVersion,
    DenyReason,
    Door,
    DoorDirection,
    EventFlag,
    LockdownMode,
)
from access.selectors import DoorCheck, access_check_at_door
from access.services import doors_register
from accounts.selectors import cards_by_id
from terminals.models import Terminal, TerminalRecord
from terminals.selectors import access_list_versions_applied, door_records_accepted

# Records projected per transaction by the catch-up.
CHUNK = 1000

# Flags judged once, when the event is made; anti-passback's is judged again as the
# holder's passages arrive.
FLAGS_KEPT = frozenset({EventFlag.REVOKED_CARD_LET_IN, EventFlag.DECISION_DIFFERS})


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

    terminal: Terminal
    doors: dict[int, Door]
    beats: list[tuple[dt.datetime, int]]
    # card_no -> [(at, version, kind)] of its change-log lines, oldest first
    changes: dict[str, list[tuple[dt.datetime, int, str]]]
    # The version every card's list must be held at for it to be the current one: the
    # newest settings line, and the version pruned through (a pruned line of the card
    # may be anywhere up to it).
    settings_current_from: int

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

    def holds_current_list(self, card_no: str, held: int | None) -> bool:
        """The controller held, for this card, the list access-check answers from: no
        line of the card, nor of the settings, came after the version it held."""
        if held is None:
            return False
        newest = max((version for _at, version, _kind in self.changes.get(card_no, [])),
                     default=0)
        return held >= max(newest, self.settings_current_from)


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
    # Every line of the cards, up to now: the later ones tell whether the list held
    # then is still the current one.
    lines = (AccessListChange.objects
             .filter(controller=terminal, card_no__in={r.card_no for r in records})
             .order_by("at", "version").values_list("card_no", "at", "version", "kind"))
    for card_no, at, version, kind in lines:
        changes[card_no].append((at, version, kind))
    settings_newest = (AccessListChange.objects
                       .filter(controller=OuterRef("controller"), kind=ChangeKind.SETTINGS)
                       .values("controller").annotate(newest=Max("version")).values("newest"))
    row = (ControllerListVersion.objects.filter(controller=terminal)
           .annotate(settings_newest=Subquery(settings_newest))
           .values_list("pruned_through", "settings_newest").first())
    current_from = max(row[0], row[1] or 0) if row else 0
    return _Controller(terminal=terminal, doors=doors, beats=beats, changes=changes,
                       settings_current_from=current_from)


def _direction(record: TerminalRecord, door: Door) -> str | None:
    said = record.raw.get("direction")
    return said if said in DoorDirection.values else door.direction


# Refusals decided after a door standing unlocked is considered.
_AFTER_UNLOCK = frozenset({DenyReason.NOT_ALLOWED, DenyReason.SCHEDULE})


def decision_differs(*, controller: Decision, server: DoorCheck) -> bool:
    """The controller's decision could not have come from the list access-check answers
    from (the caller knows the controller held it). Left out: anti-passback (the
    controller sees only its own doors' passages), a door's unlocked hours (they may
    wait for a first card the server has not heard of yet), and the controller's
    blacklist, a list of its own that may lag the access list (a card unlocked minutes
    ago is still listed there)."""
    said = server.decision
    if controller.granted == said.granted or DenyReason.ANTIPASSBACK in (
            controller.reason, said.reason) or controller.reason == DenyReason.BLACKLISTED:
        return False
    if said.reason == DenyReason.BLACKLISTED:
        # Its list no longer grants the card: only a door letting everyone through, on a
        # blacklist not yet fetched, explains letting it in.
        return not (server.unlock_hours or server.door.mode == LockdownMode.OPEN)
    return not (server.unlock_hours and (said.granted or said.reason in _AFTER_UNLOCK))


def _differs_from_server(event: AccessEvent, ctl: _Controller, number: int) -> bool:
    if not ctl.holds_current_list(event.card_no, event.list_version_held):
        return False
    server = access_check_at_door(ctl.terminal, event.card_no, number,
                                  int(event.ts.timestamp()))
    return decision_differs(controller=Decision(event.granted, event.reason or None),
                            server=server)


def _event(record: TerminalRecord, door: Door, holder_id: int | None, ctl: _Controller,
           ) -> AccessEvent:
    """The event, with the flags judged once (anti-passback's comes after, with the
    holder's other passages)."""
    granted = record.raw.get("result") == "granted"
    reason = record.raw.get("reason")
    at = record_moment(record)
    event = AccessEvent(
        record=record, door=door, area=door.area, cardholder_id=holder_id,
        card_no=record.card_no, granted=granted,
        reason="" if granted or reason not in DenyReason.values else reason,
        direction=_direction(record, door), ts=at, received_at=record.received_at,
        list_version_held=ctl.version_held(at))
    if granted and event.direction != DoorDirection.EXIT and ctl.revoked_unseen(
            record.card_no, at, event.list_version_held):
        event.flagged, event.flag_reason = True, EventFlag.REVOKED_CARD_LET_IN
    elif _differs_from_server(event, ctl, door.number):
        event.flagged, event.flag_reason = True, EventFlag.DECISION_DIFFERS
    return event


# --- Soft anti-passback, judged again as passages arrive ----------------------------------


def _soft_passage(event: AccessEvent) -> tuple[int, int] | None:
    """The (area, holder) a granted passage with a direction in a soft area counts for."""
    area = event.area
    if (event.granted and event.direction and area is not None
            and area.antipassback == AntipassbackMode.SOFT and event.cardholder_id):
        return area.pk, event.cardholder_id
    return None


def _passages_lock(pairs: Collection[tuple[int, int]]) -> None:
    """Serialise the judging of each (area, holder) across transactions. An advisory
    lock, not `select_for_update` on the holder's events: those rows may not exist yet
    (a first passage) or not be visible yet (another batch's, uncommitted), and row locks
    cannot cover either. Taken in the order of the keys, so two batches never wait on
    each other crosswise."""
    keys = sorted({f"access.passages:{area}:{holder}" for area, holder in pairs})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(key, 0)"
            " AS k FROM unnest(%s::text[]) AS key) AS keys ORDER BY k", [keys])


def _passages_stored(area_id: int, holder_id: int, since: dt.datetime) -> list[AccessEvent]:
    """The holder's granted passages with a direction in the area from `since` on, and
    the last one before it, oldest first: one query."""
    passages = AccessEvent.objects.filter(area_id=area_id, cardholder_id=holder_id,
                                          granted=True, direction__isnull=False)
    before = passages.filter(ts__lt=since).order_by("-ts", "-id").values("pk")[:1]
    return list(passages.filter(Q(ts__gte=since) | Q(pk__in=Subquery(before)))
                .order_by("ts", "id")
                .only("id", "record_id", "ts", "direction", "flagged", "flag_reason"))


def _judge_second_entry(event: AccessEvent, previous: str | None) -> bool:
    """Flag (or unflag) a second entry without an exit; True when that changed the event.
    A flag judged once is kept."""
    if event.flag_reason in FLAGS_KEPT:
        return False
    second = event.direction == DoorDirection.ENTRY and previous == DoorDirection.ENTRY
    reason = EventFlag.ANTIPASSBACK_SOFT if second else ""
    if event.flag_reason == reason:
        return False
    event.flagged, event.flag_reason = second, reason
    return True


def _passages_judge(stored: list[AccessEvent], new: list[AccessEvent]) -> list[AccessEvent]:
    """Judge one holder's passages in one area in the order they happened, the new among
    the stored; returns the stored events whose flag changed."""
    since = min(e.ts for e in new)
    previous = stored[0].direction if stored and stored[0].ts < since else None
    timeline = sorted([(e.ts, 0, i, e) for i, e in enumerate(stored) if e.ts >= since]
                      + [(e.ts, 1, i, e) for i, e in enumerate(new)],
                      key=lambda item: item[:3])
    changed, last, last_ts = [], previous, None
    for ts, _new, _i, event in timeline:
        if ts != last_ts:  # passages at the same second do not judge each other
            previous, last_ts = last, ts
        if _judge_second_entry(event, previous) and event.pk is not None:
            changed.append(event)
        last = event.direction
    return changed


def _antipassback_judge(events: list[AccessEvent]) -> None:
    """The batch's passages in soft areas, and the stored passages of the same holders
    there from the batch's earliest on, judged in time order; flags that changed on
    stored events are written back."""
    pairs: dict[tuple[int, int], list[AccessEvent]] = defaultdict(list)
    for event in events:
        pair = _soft_passage(event)
        if pair is not None:
            pairs[pair].append(event)
    if not pairs:
        return
    _passages_lock(pairs)
    changed: list[AccessEvent] = []
    for (area_id, holder_id), new in pairs.items():
        stored = _passages_stored(area_id, holder_id, min(e.ts for e in new))
        # A record projected meanwhile by another process keeps its first event.
        seen = {e.record_id for e in stored}
        new = [e for e in new if e.record_id not in seen]
        if new:
            changed += _passages_judge(stored, new)
    AccessEvent.objects.bulk_update(changed, ["flagged", "flag_reason"])


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
    events = []
    for r in todo:
        ctl = controllers[r.terminal_id]
        door = ctl.doors.get(int(r.raw.get("door", 0)))
        if door is None:
            continue
        card = cards.get(r.card_id) if r.card_id is not None else None
        events.append(_event(r, door, card.cardholder_id if card else None, ctl))
    _antipassback_judge(events)
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
