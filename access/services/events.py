"""Door records become door events (one per accepted `door` record), judged for what
security must see: a revoked card let in by a controller on an older list, a second
entry in a soft anti-passback area."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from access.models import (
    AccessEvent,
    AccessListChange,
    AntipassbackMode,
    ChangeKind,
    Door,
    DoorDirection,
    EventFlag,
)
from access.services.setup import doors_register
from accounts.models import Card
from terminals.models import HeartbeatLog, RecordStatus, RecordType, Terminal, TerminalRecord


def _held_version(terminal: Terminal, at: dt.datetime) -> int | None:
    """The access-list version the controller last reported applying before `at`."""
    return HeartbeatLog.objects.filter(terminal=terminal, at__lte=at).order_by("-at").values_list(
        "access_list_version", flat=True).first()


def _revoked_unseen(terminal: Terminal, card_no: str, at: dt.datetime,
                    held: int | None) -> bool:
    """The card's grant on this controller was revoked before `at` by a version the
    controller had not applied."""
    last = (AccessListChange.objects.filter(controller=terminal, card_no=card_no, at__lte=at)
            .order_by("-version").values_list("kind", "version").first())
    return bool(last and last[0] == ChangeKind.REVOKE and (held is None or held < last[1]))


def _second_entry(event: AccessEvent) -> bool:
    if event.cardholder_id is None or event.area_id is None:
        return False
    last = (AccessEvent.objects.filter(area_id=event.area_id, cardholder_id=event.cardholder_id,
                                       granted=True, direction__isnull=False, ts__lt=event.ts)
            .order_by("-ts", "-id").values_list("direction", flat=True).first())
    return last == DoorDirection.ENTRY


def events_from_records(*, terminal: Terminal, records: Sequence[tuple[int, str]]) -> int:
    """Called in the ingest transaction with the batch's accepted records."""
    seqs = [seq for seq, kind in records if kind == RecordType.DOOR]
    if not seqs:
        return 0
    doors = {d.number: d for d in Door.objects.filter(controller=terminal).select_related("area")}
    if not doors:
        doors_register(controller=terminal)
        doors = {d.number: d for d in Door.objects.filter(controller=terminal)
                 .select_related("area")}
    # A record already projected (by another projector of the same records) is left alone.
    rows = (TerminalRecord.objects.filter(terminal=terminal, terminal_seq__in=seqs,
                                          status=RecordStatus.ACCEPTED,
                                          access_event__isnull=True)
            .order_by("ts", "terminal_seq"))
    cards = dict(Card.objects.filter(card_no__in={r.card_no for r in rows})
                 .values_list("card_no", "cardholder_id"))
    made = 0
    for record in rows:
        raw = record.raw
        door = doors.get(int(raw["door"]))
        if door is None:
            continue
        granted = raw.get("result") == "granted"
        ts = dt.datetime.fromtimestamp(int(raw["ts"]), dt.UTC)
        event = AccessEvent(
            record=record, door=door, area=door.area, cardholder_id=cards.get(record.card_no),
            card_no=record.card_no, granted=granted,
            reason="" if granted else (raw.get("reason") or ""),
            direction=raw.get("direction") or door.direction, ts=ts,
            received_at=record.received_at, list_version_held=_held_version(terminal, ts))
        if granted and _revoked_unseen(terminal, record.card_no, ts, event.list_version_held):
            event.flagged, event.flag_reason = True, EventFlag.REVOKED_CARD_LET_IN
        elif (granted and event.direction == DoorDirection.ENTRY and door.area
              and door.area.antipassback == AntipassbackMode.SOFT and _second_entry(event)):
            event.flagged, event.flag_reason = True, EventFlag.ANTIPASSBACK_SOFT
        event.save()
        made += 1
    return made
