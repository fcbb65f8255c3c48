"""Records upload, terminal-protocol.md §4 and §5 (`POST /records`): the hot path.

A batch is one transaction: the terminal's row lock serialises its batches (so the
same batch sent twice at once is applied once), each record is classified in order
(duplicate, conflict, rejected, accepted), accepted purse records go to
`accounts.services.card_movements_apply`, and every record received is stored: new
ones at their terminal_seq, conflicts in quarantine. A crash before commit leaves
nothing, so the terminal's retry applies the batch whole.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import crypto
from accounts.errors import KeyVersionUnknown
from accounts.keys import purse_master_key
from accounts.selectors import cards_by_number
from accounts.services import CardMovement, card_movements_apply, card_movements_reserve
from core.db import bulk_cursor
from terminals.errors import BatchTooLarge, InvalidBatch
from terminals.models import (
    PURSE_TYPES,
    QuarantinedRecord,
    RecordStatus,
    RecordType,
    Terminal,
    TerminalKind,
    TerminalRecord,
)
from terminals.selectors import terminal_may_load
from terminals.signals import records_accepted

MAX_RECORDS = 1000
MAX_BODY_BYTES = 1 << 20
MAX_INT = 2**53 - 1  # what every JSON peer can hold exactly
CLOCK_SKEW_S = 24 * 3600
_CARD_NO = re.compile(r"^[0-9]{8,19}$")
_TAC = re.compile(r"^[0-9a-fA-F]{16}$")
# The protocol's reasons, and `lockdown` (operations-api.md, Access control).
DOOR_REASONS = {None, "not_allowed", "blacklisted", "schedule", "unknown_card", "antipassback",
                "lockdown"}


def allowed_types(terminal: Terminal) -> set[str]:
    kind = terminal.kind
    if kind == TerminalKind.POS:
        loads = terminal_may_load(terminal)
        return {RecordType.PURCHASE, RecordType.LOAD} if loads else {RecordType.PURCHASE}
    by_kind: dict[str, set[str]] = {
        TerminalKind.KIOSK: {RecordType.LOAD},
        TerminalKind.ISSUER: {RecordType.LOAD},
        TerminalKind.DOOR: {RecordType.DOOR},
        TerminalKind.ATTENDANCE: {RecordType.PUNCH},
    }
    return by_kind.get(kind, set())


def parse_batch(body: bytes) -> list[dict[str, Any]]:
    """The batch's records, or InvalidBatch / BatchTooLarge: nothing of it applied."""
    if len(body) > MAX_BODY_BYTES:
        raise BatchTooLarge()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidBatch(_("The body is not JSON.")) from exc
    if (b"\\u0000" in body or _SURROGATE.search(body)) and not _storable_whole(data):
        raise InvalidBatch(_("The body holds text PostgreSQL cannot store (NUL or a lone "
                             "surrogate)."))
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_RECORDS:
        raise InvalidBatch()
    for i, record in enumerate(records):
        seq = record.get("terminal_seq") if isinstance(record, dict) else None
        if not _is_int(seq, 1):
            raise InvalidBatch(
                _("Record %(i)d has no terminal_seq (a whole number from 1).") % {"i": i}
            )
    return records


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _storable_whole(data: Any) -> bool:
    try:
        return _storable(data)
    except RecursionError:  # nested deeper than we walk: not worth storing either
        return False


def _storable(value: Any) -> bool:
    """No NUL and no unpaired surrogate in any text (jsonb and UTF-8 take neither)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


def _is_int(value: Any, low: int = 0, high: int = MAX_INT) -> bool:
    return type(value) is int and low <= value <= high


class Invalid(ValueError):
    """A record that cannot be taken as it is: rejected `invalid` with this detail."""


def _require(ok: bool, detail: str) -> None:
    if not ok:
        raise Invalid(detail)


def validate_record(record: dict[str, Any]) -> None:
    """Shape and limits of one record (§4); raises Invalid with a detail for people."""
    kind = record.get("type")
    _require(kind in RecordType.values, "type must be purchase, load, door or punch")
    _require(_is_int(record.get("ts")), "ts must be whole Unix seconds")
    card_no = record.get("card_no")
    _require(isinstance(card_no, str) and 1 <= len(card_no) <= 32, "card_no must be a string")
    assert isinstance(card_no, str)
    if kind in PURSE_TYPES:
        _require(bool(_CARD_NO.match(card_no)), "card_no must be 8 to 19 digits")
        _require(_is_int(record.get("card_seq"), 1), "card_seq must be a whole number from 1")
        _require(record.get("purse") in ("main", "subsidy"), "purse must be main or subsidy")
        amount = record.get("amount")
        _require(_is_int(amount, 1), "amount must be a whole number of fen above 0")
        floor = amount if kind == RecordType.PURCHASE and isinstance(amount, int) else 0
        _require(_is_int(record.get("balance_before"), floor),
                 f"balance_before must be a whole number of at least {floor}")
        _require(_is_int(record.get("key_version"), 1, 255), "key_version must be 1 to 255")
        _require(isinstance(record.get("tac"), str) and bool(_TAC.match(record["tac"])),
                 "tac must be 16 hex characters")
    if kind == RecordType.LOAD:
        load_id, source = record.get("load_id"), record.get("source")
        _require((isinstance(load_id, str) and 1 <= len(load_id) <= 40) != (source == "cash"),
                 'a load names either a load_id or "source": "cash"')
    if kind == RecordType.DOOR:
        # Above 0 here; the controller's door count, which bounds it, is checked in _decide.
        _require(_is_int(record.get("door"), 1), "door must be a whole number from 1")
        _require(record.get("result") in ("granted", "denied"), "result must be granted or denied")
        _require(record.get("reason") in DOOR_REASONS, "reason is not one of the known reasons")


def content_hash(record: dict[str, Any]) -> str:
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@lru_cache(maxsize=65536)
def _card_key(master: bytes, uid: str, card_no: str) -> bytes:
    return crypto.derive_card_key(master, uid, card_no)


@dataclass
class Pending:
    """A record being decided: where it stands and what will be stored."""

    index: int
    record: dict[str, Any]
    hash: str
    status: str = ""
    reason: str = ""
    detail: str = ""
    card: Any = None
    flags: list[str] = field(default_factory=list)
    posting_id: int | None = None

    def reject(self, reason: str, detail: str = "") -> None:
        self.status, self.reason, self.detail = RecordStatus.REJECTED, reason, detail[:255]


@dataclass
class BatchAnswer:
    results: list[dict[str, Any]]
    highest_contiguous_seq: int

    def as_dict(self) -> dict[str, Any]:
        return {"results": self.results, "highest_contiguous_seq": self.highest_contiguous_seq}


def records_ingest(*, terminal: Terminal, records: list[dict[str, Any]]) -> BatchAnswer:
    received_at = timezone.now()
    hashes = [content_hash(r) for r in records]
    with transaction.atomic():
        terminal = (Terminal.objects.select_for_update(of=("self",), no_key=True)
                    .select_related("merchant").get(pk=terminal.pk))
        seqs = {r["terminal_seq"] for r in records}
        stored = dict(
            TerminalRecord.objects.filter(terminal=terminal, terminal_seq__in=seqs)
            .order_by().values_list("terminal_seq", "content_hash")
        )
        results: list[dict[str, Any]] = []
        fresh: list[Pending] = []
        quarantine: list[QuarantinedRecord] = []
        for i, (record, digest) in enumerate(zip(records, hashes, strict=True)):
            seq = record["terminal_seq"]
            if seq in stored:
                same = stored[seq] == digest
                results.append({"terminal_seq": seq, "status": "duplicate" if same else "conflict"})
                if not same:
                    quarantine.append(QuarantinedRecord(
                        terminal=terminal, terminal_seq=seq, reason="conflict", raw=record,
                        content_hash=digest, received_at=received_at))
                continue
            stored[seq] = digest
            results.append({"terminal_seq": seq})
            fresh.append(Pending(index=i, record=record, hash=digest))
        movements = _decide(terminal, fresh, received_at)
        if connection.vendor == "postgresql":
            # Locks late: the records are stored first, naming the postings they will
            # have (ids reserved now), and the cards, purses and counters are locked
            # only for the money's own writes and the commit right after them. A batch
            # of 500 once held its 500 card locks while it stored its records too, and
            # a top-up or a live sale of one of those cards waited for all of it.
            card_movements_reserve(movements=[m for _p, m in movements])
            for p, m in movements:
                p.posting_id = m.posting_id
            _store(terminal, fresh, received_at)
            if quarantine:
                QuarantinedRecord.objects.bulk_create(quarantine, ignore_conflicts=True)
            contiguous = _advance_contiguous(terminal)
            stored_as = {p.index: (p.status, list(p.flags), p.posting_id) for p in fresh}
            _move(movements)
            _restore_changed(terminal, [p for p in fresh if (p.status, p.flags, p.posting_id)
                                        != stored_as[p.index]])
        else:
            _move(movements)
            _store(terminal, fresh, received_at)
            if quarantine:
                QuarantinedRecord.objects.bulk_create(quarantine, ignore_conflicts=True)
            contiguous = _advance_contiguous(terminal)
        for p in fresh:
            results[p.index]["status"] = p.status
            if p.status == RecordStatus.REJECTED:
                results[p.index]["reason"] = p.reason
                if p.detail:
                    results[p.index]["detail"] = p.detail
        accepted = [(p.record["terminal_seq"], p.record["type"]) for p in fresh
                    if p.status == RecordStatus.ACCEPTED]
        if accepted:  # door events (access), punches (attendance): in this transaction
            records_accepted.send(sender=Terminal, terminal=terminal, records=accepted)
    return BatchAnswer(results=results, highest_contiguous_seq=contiguous)


def _move(movements: list[tuple[Pending, CardMovement]]) -> None:
    """The money: cards, pending loads and the ledger, under their locks (accounts)."""
    outcomes = card_movements_apply(movements=[m for _p, m in movements])
    for (p, _m), outcome in zip(movements, outcomes, strict=True):
        if not outcome.ok:
            p.reject(outcome.reason, outcome.detail)
            p.posting_id = None
        else:
            p.posting_id = outcome.posting_id
            p.flags += outcome.flags


def _restore_changed(terminal: Terminal, changed: list[Pending]) -> None:
    """Records the money's writes decided otherwise than they were stored (a load
    refused by its pending load, a flag the purse raised): stored again as decided."""
    for p in changed:
        TerminalRecord.objects.filter(terminal=terminal,
                                      terminal_seq=p.record["terminal_seq"]).update(
            status=p.status, reason=p.reason, detail=p.detail, flags=p.flags,
            posting_id=p.posting_id)


def _decide(terminal: Terminal, fresh: list[Pending],
            received_at: Any) -> list[tuple[Pending, CardMovement]]:
    """Each fresh record's status, except what only the money's writes can tell (a load
    against its pending load, flags from the purse): the movements for `_move`."""
    types = allowed_types(terminal)
    purse_records: list[Pending] = []
    for p in fresh:
        try:
            validate_record(p.record)
        except Invalid as exc:
            p.reject("invalid", str(exc))
            continue
        if p.record["type"] not in types:
            p.reject("type_not_allowed")
            continue
        if p.record["type"] == RecordType.DOOR and p.record["door"] > terminal.doors:
            p.reject("invalid", f"door {p.record['door']}: this controller has doors 1 to "
                                f"{terminal.doors}")
            continue
        if abs(p.record["ts"] - received_at.timestamp()) > CLOCK_SKEW_S or \
                p.record["ts"] > received_at.timestamp() + 300:
            p.flags.append("clock_skew")
        p.status = RecordStatus.ACCEPTED
        if p.record["type"] in PURSE_TYPES:
            purse_records.append(p)
    accepted = [p for p in fresh if p.status == RecordStatus.ACCEPTED]
    cards = cards_by_number({p.record["card_no"] for p in accepted})
    for p in accepted:
        p.card = cards.get(p.record["card_no"])
    return _check_purse_records(terminal, purse_records)


def _check_purse_records(terminal: Terminal,
                         records: list[Pending]) -> list[tuple[Pending, CardMovement]]:
    """Card known, key version known, TAC right: only then may money move."""
    masters: dict[int, bytes | None] = {}
    movements = []
    for p in records:
        r = p.record
        if p.card is None:
            p.reject("unknown_card")
            continue
        version = r["key_version"]
        if version not in masters:
            try:
                masters[version] = purse_master_key(version)
            except KeyVersionUnknown:
                masters[version] = None
        master = masters[version]
        if master is None:
            p.reject("unknown_key_version")
            continue
        card_key = _card_key(master, p.card.uid, p.card.card_no)
        if not crypto.tac_matches(card_key, r, terminal.terminal_id, r["tac"]):
            p.reject("bad_tac")
            continue
        if r["type"] == RecordType.PURCHASE:
            assert terminal.merchant is not None  # a POS has a merchant (check constraint)
            counter = f"merchant_payable:{terminal.merchant.code}"
        else:
            counter = f"terminal_cash:{terminal.terminal_id}"
        movements.append((p, CardMovement(
            key=f"record:{terminal.terminal_id}:{r['terminal_seq']}", card_id=p.card.pk,
            type=r["type"], purse=r["purse"], amount=r["amount"], card_seq=r["card_seq"],
            load_id=(r.get("load_id") or "") if r["type"] == RecordType.LOAD else "",
            counter_account=counter,
        )))
    return movements


def _int_or_none(value: Any) -> int | None:
    return value if _is_int(value) else None


def _store(terminal: Terminal, fresh: list[Pending], received_at: Any) -> None:
    """Every new record, accepted or rejected, at its terminal_seq: one statement."""
    if not fresh:
        return
    columns: dict[str, list[Any]] = {name: [] for name in (
        "terminal_seq", "type", "status", "reason", "detail", "card_no", "card_id", "ts",
        "card_seq", "purse", "amount", "balance_before", "load_id", "posting_id", "flags",
        "content_hash", "raw")}
    for p in fresh:
        r = p.record
        for name, value in (
            ("terminal_seq", r["terminal_seq"]), ("type", str(r.get("type"))[:16]),
            ("status", p.status), ("reason", p.reason), ("detail", p.detail),
            ("card_no", str(r.get("card_no") or "")[:32]),
            ("card_id", p.card.pk if p.card is not None else None),
            ("ts", _int_or_none(r.get("ts"))), ("card_seq", _int_or_none(r.get("card_seq"))),
            ("purse", str(r.get("purse") or "")[:16]), ("amount", _int_or_none(r.get("amount"))),
            ("balance_before", _int_or_none(r.get("balance_before"))),
            ("load_id", str(r.get("load_id") or "")[:40]), ("posting_id", p.posting_id),
            ("flags", json.dumps(p.flags)), ("content_hash", p.hash),
            ("raw", json.dumps(r, ensure_ascii=False)),
        ):
            columns[name].append(value)
    if connection.vendor != "postgresql":
        TerminalRecord.objects.bulk_create([
            TerminalRecord(terminal=terminal, received_at=received_at, **{
                k: (json.loads(v[i]) if k in ("flags", "raw") else v[i])
                for k, v in columns.items()})
            for i in range(len(fresh))
        ])
        return
    types = {"terminal_seq": "bigint", "card_id": "bigint", "ts": "bigint", "card_seq": "bigint",
             "amount": "bigint", "balance_before": "bigint", "posting_id": "bigint",
             "flags": "jsonb", "raw": "jsonb"}
    names = list(columns)
    unnest = ", ".join(f"%b::{'text' if types.get(n) == 'jsonb' else types.get(n, 'text')}[]"
                       for n in names)
    select = ", ".join(f"v.{n}::jsonb" if types.get(n) == "jsonb" else f"v.{n}" for n in names)
    with bulk_cursor() as cur:
        cur.execute(
            f"INSERT INTO terminals_terminalrecord (terminal_id, received_at, {', '.join(names)}) "
            f"SELECT %s, %s, {select} FROM unnest({unnest}) AS v({', '.join(names)})",
            [terminal.pk, received_at, *columns.values()],
        )


def _advance_contiguous(terminal: Terminal) -> int:
    """Walk the stored seqs past the last contiguous one; saved on the terminal row."""
    n = terminal.contiguous_seq
    if connection.vendor == "postgresql":
        # One round trip: the i-th stored seq past n is n + i up to the first hole (the
        # walk stops there, so a hole with a long tail behind it costs one row); no
        # hole: every stored seq past n is in the run. Saved if it moved.
        with connection.cursor() as cur:
            cur.execute(
                """
                WITH run AS (
                    SELECT %(n)s + COALESCE(
                        (SELECT x.rn - 1 FROM (
                            SELECT terminal_seq, row_number() OVER (ORDER BY terminal_seq) AS rn
                            FROM terminals_terminalrecord
                            WHERE terminal_id = %(t)s AND terminal_seq > %(n)s) x
                         WHERE x.terminal_seq <> %(n)s + x.rn LIMIT 1),
                        (SELECT count(*) FROM terminals_terminalrecord
                         WHERE terminal_id = %(t)s AND terminal_seq > %(n)s)) AS seq
                ), saved AS (
                    UPDATE terminals_terminal SET contiguous_seq = run.seq FROM run
                    WHERE id = %(t)s AND run.seq <> %(n)s
                )
                SELECT seq FROM run
                """,
                {"t": terminal.pk, "n": n},
            )
            row = cur.fetchone()
            assert row is not None
            return int(row[0])
    following = (TerminalRecord.objects.filter(terminal=terminal, terminal_seq__gt=n)
                 .order_by("terminal_seq").values_list("terminal_seq", flat=True))
    for seq in following.iterator(chunk_size=2000):
        if seq != n + 1:
            break
        n = seq
    if n != terminal.contiguous_seq:
        Terminal.objects.filter(pk=terminal.pk).update(contiguous_seq=n)
    return n


def server_time() -> int:
    return int(time.time())
