"""Reads of the terminal registry."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection, Iterator
from typing import Any

from django.db import connection
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils.translation import gettext as _

from accounts.hooks import CardRecord
from accounts.models import Card, CardStatus
from accounts.selectors import pending_load_sources
from core.errors import NotFound
from terminals.hooks import access_list_version
from terminals.models import (
    PURSE_TYPES,
    HeartbeatLog,
    QuarantinedRecord,
    RecordStatus,
    RecordType,
    Terminal,
    TerminalKind,
    TerminalRecord,
    TerminalStatus,
)


def terminal_get(terminal_id: str) -> Terminal:
    terminal = Terminal.objects.select_related("merchant").filter(terminal_id=terminal_id).first()
    if terminal is None:
        raise NotFound(_("No terminal %(t)s.") % {"t": terminal_id})
    return terminal


def terminal_locked(terminal: Terminal) -> None:
    """Take the terminal's row lock until the caller's transaction ends: what serialises
    two requests of one terminal (heartbeats raising alarms, for one)."""
    Terminal.objects.select_for_update(no_key=True).filter(pk=terminal.pk).values_list("pk").first()


def terminal_list(*, kind: str | None = None, status: str | None = None) -> QuerySet[Terminal]:
    qs = Terminal.objects.select_related("merchant").order_by("terminal_id")
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


POS_DEFAULTS: dict[str, object] = {"mode": "free", "max_amount": 5000, "collect_loads": False}
KIND_DEFAULTS: dict[str, dict[str, object]] = {TerminalKind.POS: POS_DEFAULTS}


def terminal_config(terminal: Terminal) -> dict[str, object]:
    """GET /config (§5): the terminal's parameters over its kind's defaults."""
    merchant = terminal.merchant
    return {
        "terminal_id": terminal.terminal_id,
        "kind": terminal.kind,
        "name": terminal.name,
        "merchant": {"code": merchant.code, "name": merchant.name} if merchant else None,
        "config_version": terminal.config_version,
        "server_time": int(time.time()),
        "params": {**KIND_DEFAULTS.get(terminal.kind, {}), **(terminal.params or {})},
    }


def terminal_may_load(terminal: Terminal) -> bool:
    """Kiosks and issuers write loads; a POS only when its config collects them."""
    if terminal.kind in (TerminalKind.KIOSK, TerminalKind.ISSUER):
        return True
    params: Any = terminal_config(terminal)["params"]
    return terminal.kind == TerminalKind.POS and bool(params.get("collect_loads"))


HEARTBEAT_DEFAULT_S = 60
MISSED_HEARTBEATS_OFFLINE = 3


def terminal_status(terminal: Terminal, now: float | None = None) -> str:
    """online, offline (3 missed heartbeats), or the registry status when not active."""
    if terminal.status != TerminalStatus.ACTIVE:
        return str(terminal.status)
    interval = (terminal.params or {}).get("heartbeat_s", HEARTBEAT_DEFAULT_S)
    if terminal.last_seen is None:
        return "offline"
    age = (now if now is not None else time.time()) - terminal.last_seen.timestamp()
    return "online" if age <= MISSED_HEARTBEATS_OFFLINE * interval else "offline"


def terminal_overview(terminal: Terminal) -> dict[str, object]:
    return {
        "terminal_id": terminal.terminal_id,
        "kind": terminal.kind,
        "name": terminal.name,
        "merchant": terminal.merchant.code if terminal.merchant else None,
        "doors": terminal.doors,
        "status": terminal_status(terminal),
        "last_seen": terminal.last_seen.isoformat() if terminal.last_seen else None,
        "blacklist_version": terminal.blacklist_version,
        "access_list_version": terminal.access_list_version,
        # A door controller's current list version: above the applied one, it lags behind.
        "access_list_latest": (access_list_version(terminal)
                               if terminal.kind == TerminalKind.DOOR else None),
        "last_seq": terminal.contiguous_seq,
        "reported_last_seq": terminal.reported_last_seq,
        "queued_records": terminal.queued_records,
        "faults": terminal.faults,
        "config_version": terminal.config_version,
        "params": terminal.params,
    }


# --- What reconciliation reads ----------------------------------------------------------


def rejected_received(start: Any, end: Any) -> Iterator[TerminalRecord]:
    return (TerminalRecord.objects.filter(status=RecordStatus.REJECTED, received_at__gte=start,
                                          received_at__lt=end)
            .select_related("terminal").iterator(chunk_size=2000))


def conflicts_received(start: Any, end: Any) -> Iterator[QuarantinedRecord]:
    return (QuarantinedRecord.objects.filter(received_at__gte=start, received_at__lt=end)
            .select_related("terminal").iterator(chunk_size=2000))


def flagged_received(start: Any, end: Any) -> Iterator[TerminalRecord]:
    return (TerminalRecord.objects.filter(status=RecordStatus.ACCEPTED, received_at__gte=start,
                                          received_at__lt=end).exclude(flags=[])
            .select_related("terminal").iterator(chunk_size=2000))


def terminal_seq_gaps() -> list[tuple[str, int, int]]:
    """(terminal_id, first missing, last missing) for every hole in every terminal's
    stored seqs, including a missing start (seq 1)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT t.terminal_id, g.prev + 1, g.terminal_seq - 1 FROM ("
            " SELECT terminal_id, terminal_seq, LAG(terminal_seq, 1, 0) OVER ("
            "  PARTITION BY terminal_id ORDER BY terminal_seq) AS prev"
            " FROM terminals_terminalrecord) g"
            " JOIN terminals_terminal t ON t.id = g.terminal_id"
            " WHERE g.terminal_seq - g.prev > 1 ORDER BY 1, 2"
        )
        return [(str(a), int(b), int(c)) for a, b, c in cur.fetchall()]


def cards_with_records_received(start: Any, end: Any) -> set[int]:
    return set(TerminalRecord.objects.filter(
        received_at__gte=start, received_at__lt=end, card__isnull=False,
        type__in=PURSE_TYPES, status=RecordStatus.ACCEPTED,
    ).values_list("card_id", flat=True).distinct())


def purse_records_of_cards(card_ids: set[int]) -> Iterator[Any]:
    """The accepted purse records of these cards in card and counter order, as light rows
    (only the fields the chain checks read; a night has a million of them)."""
    return (TerminalRecord.objects.filter(card_id__in=card_ids, status=RecordStatus.ACCEPTED,
                                          type__in=PURSE_TYPES)
            .annotate(terminal_code=F("terminal__terminal_id"))
            .order_by("card_id", "card_seq", "received_at")
            .values_list("card_id", "card_seq", "received_at", "balance_before", "amount",
                         "type", "purse", "terminal_code", "terminal_seq", named=True)
            .iterator(chunk_size=10000))


def _applied_version(terminal_pk: int, at: Any) -> int:
    beat = (HeartbeatLog.objects.filter(terminal_id=terminal_pk, at__lte=at)
            .order_by("-at").values_list("blacklist_version", flat=True).first())
    return int(beat or 0)


def purchases_on_listed_cards(start: Any, end: Any) -> Iterator[tuple[TerminalRecord, int, int]]:
    """Purchases received in the window by cards that were on the blacklist at the time:
    each with the version that listed the card and the version the terminal had applied
    (its last heartbeat before the sale)."""
    from accounts.selectors import blacklist_state_at

    qs = (TerminalRecord.objects.filter(status=RecordStatus.ACCEPTED, type=RecordType.PURCHASE,
                                        received_at__gte=start, received_at__lt=end,
                                        card__blacklist_versions__isnull=False)
          .distinct().select_related("terminal"))
    for r in qs.iterator(chunk_size=2000):
        sold_at = dt.datetime.fromtimestamp(r.ts or 0, tz=dt.UTC)
        listed_at = blacklist_state_at(r.card_id, sold_at) if r.card_id else None
        if listed_at is not None:
            yield r, listed_at, _applied_version(r.terminal_id, sold_at)


def purchases_after_replacement(start: Any, end: Any) -> Iterator[tuple[TerminalRecord, Any]]:
    qs = (TerminalRecord.objects.filter(status=RecordStatus.ACCEPTED, type=RecordType.PURCHASE,
                                        received_at__gte=start, received_at__lt=end,
                                        card__status=CardStatus.REPLACED)
          .select_related("terminal", "card"))
    for r in qs.iterator(chunk_size=2000):
        closed = r.card.closed_at if r.card else None
        if closed is not None and (r.ts or 0) > closed.timestamp():
            yield r, closed


def purchase_for_refund(terminal_id: str, terminal_seq: int) -> TerminalRecord | None:
    """The accepted purchase, locked so that two refunds of it cannot both pass the
    'not beyond its amount' check."""
    return (TerminalRecord.objects.select_for_update(of=("self",), no_key=True)
            .select_related("terminal__merchant", "card__cardholder")
            .filter(terminal__terminal_id=terminal_id, terminal_seq=terminal_seq,
                    type=RecordType.PURCHASE, status=RecordStatus.ACCEPTED).first())


# --- A card's history (registered into accounts.hooks.card_record_source) ----------------


def _moment(ts: int | None) -> dt.datetime | None:
    """The terminal's Unix seconds as a date-time; None past what a date can hold (an
    accepted record from a terminal with a wild clock, flagged clock_skew)."""
    if ts is None:
        return None
    try:
        return dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _raw_field(raw: Any, name: str) -> Any:
    value = raw.get(name) if isinstance(raw, dict) else None
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def _card_record(r: Any) -> CardRecord:
    purse_record = r.type in PURSE_TYPES
    amount = r.amount if purse_record else None
    before = r.balance_before if purse_record else None
    after = None
    if amount is not None and before is not None:
        after = before - amount if r.type == RecordType.PURCHASE else before + amount
    source = None
    if r.type == RecordType.LOAD:
        source = r.load_source if r.load_id else _raw_field(r.raw, "source")
    door = r.type == RecordType.DOOR
    merchant = r.terminal.merchant
    return {
        "type": r.type,
        "terminal_id": r.terminal.terminal_id,
        "terminal_seq": r.terminal_seq,
        "terminal_name": r.terminal.name,
        "merchant": {"code": merchant.code, "name": merchant.name} if merchant else None,
        "ts": _moment(r.ts),
        "received_at": r.received_at,
        "card_seq": r.card_seq if purse_record else None,
        "purse": r.purse or None,
        "amount": amount,
        "balance_before": before,
        "balance_after": after,
        "load_id": r.load_id or None,
        "source": source,
        "posting": r.posting_id,
        "door": _raw_field(r.raw, "door") if door else None,
        "result": _raw_field(r.raw, "result") if door else None,
        "reason": _raw_field(r.raw, "reason") if door else None,
        "direction": _raw_field(r.raw, "direction") if door else None,
        "flags": [str(f) for f in r.flags] if isinstance(r.flags, list) else [],
    }


class CardRecordRows:
    """The records of one card as `accounts.hooks.CardRecordList`: counted and sliced in
    the database, each window turned into CardRecord dicts."""

    def __init__(self, queryset: QuerySet[TerminalRecord]) -> None:
        self.queryset = queryset

    def count(self) -> int:
        return self.queryset.count()

    def __getitem__(self, window: slice) -> list[CardRecord]:
        return [_card_record(r) for r in self.queryset[window]]


def card_records(card: Card, *, since: dt.datetime | None, until: dt.datetime | None,
                 types: Collection[str] | None) -> CardRecordRows:
    """The card's accepted records (rejected ones and conflicts never: they moved
    nothing), per card number: a replaced card keeps its own. A period and the order go
    by `received_at`, the server's clock, as the card's ledger postings do (a record
    posts when it arrives; a terminal's clock may be wrong): newest first, a batch's
    records by the terminal's time and seq. Loads carry their pending load's source."""
    qs = (TerminalRecord.objects.filter(card_id=card.pk, status=RecordStatus.ACCEPTED)
          .select_related("terminal__merchant")
          .annotate(load_source=Subquery(pending_load_sources().filter(load_id=OuterRef("load_id"))
                                         .values("source")[:1]))
          .order_by("-received_at", "-ts", "-terminal_seq", "-id"))
    if types is not None:
        qs = qs.filter(type__in=list(types))
    if since is not None:
        qs = qs.filter(received_at__gte=since)
    if until is not None:
        qs = qs.filter(received_at__lt=until)
    return CardRecordRows(qs)


# --- Door records, read by access (each accepted `door` record becomes a door event) -----


def door_records_accepted(*, terminal: Terminal | None = None,
                          seqs: Collection[int] | None = None) -> QuerySet[TerminalRecord]:
    """Accepted `door` records, in the order passages happened: by the controller's time,
    then by controller and seq (anti-passback judges each passage by the ones before it)."""
    qs = TerminalRecord.objects.filter(type=RecordType.DOOR, status=RecordStatus.ACCEPTED)
    if terminal is not None:
        qs = qs.filter(terminal=terminal)
    if seqs is not None:
        qs = qs.filter(terminal_seq__in=list(seqs))
    return qs.select_related("terminal").order_by("ts", "terminal_id", "terminal_seq")


def access_list_versions_applied(terminal: Terminal, start: dt.datetime, end: dt.datetime,
                                 ) -> list[tuple[dt.datetime, int]]:
    """The access-list versions a door controller reported applying, (heartbeat time,
    version) oldest first, from its last heartbeat at or before `start` to `end`: the
    version it held at a moment is that of its last heartbeat at or before it."""
    log = HeartbeatLog.objects.filter(terminal=terminal)
    first = log.filter(at__lte=start).order_by("-at").values_list("at", flat=True).first()
    beats = log.filter(at__lte=end, at__gte=first or start).order_by("at", "id")
    return [(at, int(version)) for at, version in beats.values_list("at", "access_list_version")]


# --- Punch records, read by attendance ------------------------------------------------


def punches_of_cards(card_ids: Collection[int], start: dt.datetime, end: dt.datetime,
                     ) -> list[tuple[int, int]]:
    """(card id, clock time as epoch seconds) of the accepted `punch` records of these
    cards whose clock time falls in [start, end), in time order. The clock's time is the
    punch: an upload days late still counts for the day it was made."""
    if not card_ids:
        return []
    rows = (TerminalRecord.objects
            .filter(type=RecordType.PUNCH, status=RecordStatus.ACCEPTED,
                    card_id__in=list(card_ids), ts__gte=int(start.timestamp()),
                    ts__lt=int(end.timestamp()))
            .order_by("ts", "id").values_list("card_id", "ts"))
    return [(int(card), int(ts)) for card, ts in rows if card is not None and ts is not None]


def punches_of_batch(*, terminal: Terminal, seqs: Collection[int]) -> list[tuple[int, int]]:
    """(card id, clock time) of a batch's accepted `punch` records, by seq."""
    rows = (TerminalRecord.objects
            .filter(terminal=terminal, terminal_seq__in=list(seqs), type=RecordType.PUNCH,
                    status=RecordStatus.ACCEPTED, card_id__isnull=False, ts__isnull=False)
            .values_list("card_id", "ts"))
    return [(int(card), int(ts)) for card, ts in rows if card is not None and ts is not None]
