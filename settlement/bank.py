"""Bank transfers (圈存, operations-api.md "Bank transfers"): the bank's gateway reports each
transfer it made from a holder's bank account, and the holder's purse is credited from bank
clearing at once; the next day finance uploads the bank's statement, and a transfer on one
side only (单边账) becomes an exception that resolves itself once the other side matches.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.errors import InvalidAmount, UnknownCardholder
from accounts.models import Cardholder, PendingLoad
from accounts.selectors import card_live_for
from accounts.services import card_top_up
from core.errors import InvalidRequest
from settlement.errors import BankRefConflict, InvalidStatement, NoCardInUse
from settlement.models import (
    BankStatementLine,
    BankTransfer,
    ExceptionCode,
    ExceptionStatus,
    ReconException,
)

STATEMENT_COLUMNS = ("bank_ref", "cardholder", "amount", "ts")
_ADVISORY_LOCK_STATEMENTS = 0x0BA4_5747  # serialises statement uploads
_AMOUNT = re.compile(r"^[0-9]{1,15}$")


@dataclass(frozen=True)
class StatementRow:
    line: int
    bank_ref: str
    cardholder: str
    amount: int
    ts: dt.datetime

    def content(self) -> tuple[str, int, dt.datetime]:
        return (self.cardholder, self.amount, self.ts)


@dataclass
class StatementSummary:
    filename: str
    lines: int = 0
    stored: int = 0
    skipped: int = 0
    matched: int = 0
    bank_only: list[str] = field(default_factory=list)
    onecard_only: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "filename": self.filename, "lines": self.lines, "stored": self.stored,
            "skipped": self.skipped, "matched": self.matched, "bank_only": self.bank_only,
            "onecard_only": self.onecard_only, "resolved": self.resolved,
        }


def parse_bank_ts(value: str) -> dt.datetime:
    """An ISO 8601 date and time with its UTC offset (the bank's clock); ValueError else."""
    try:
        ts = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(_("ts must be an ISO 8601 date and time.")) from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(_("ts must carry its UTC offset, e.g. 2026-11-01T09:30:00+08:00."))
    return ts


def local_date(ts: dt.datetime) -> dt.date:
    return ts.astimezone(ZoneInfo(settings.TIME_ZONE)).date()


def _content(obj: BankTransfer | BankStatementLine) -> tuple[str, int, dt.datetime]:
    return (obj.cardholder_number, obj.amount, obj.ts)


def _snapshot(obj: BankTransfer | BankStatementLine) -> dict[str, Any]:
    return {"bank_ref": obj.bank_ref, "cardholder": obj.cardholder_number,
            "amount": obj.amount, "ts": obj.ts.isoformat()}


# --- Exceptions (单边账) -----------------------------------------------------------------


def _raise_one_sided(code: str, obj: BankTransfer | BankStatementLine,
                     **detail: Any) -> bool:
    _exc, created = ReconException.objects.get_or_create(
        key=f"{code}:{obj.bank_ref}",
        defaults={"code": code, "business_date": local_date(obj.ts),
                  "detail": {**_snapshot(obj), **detail}},
    )
    return created


def _resolve_one_sided(code: str, bank_ref: str, note: str) -> bool:
    """Close the open exception of `code` about `bank_ref`, if any: the other side matched."""
    exc = (ReconException.objects.select_for_update()
           .filter(key=f"{code}:{bank_ref}", status=ExceptionStatus.OPEN).first())
    if exc is None:
        return False
    exc.status, exc.resolved_at, exc.note = ExceptionStatus.RESOLVED, timezone.now(), note
    exc.save(update_fields=["status", "resolved_at", "note"])
    return True


# --- The gateway's transfers ------------------------------------------------------------


def bank_transfer_record(
    *, bank_ref: str, cardholder_number: str, amount: int, ts: dt.datetime, by: Any,
    channel: str = "bank",
) -> tuple[BankTransfer, PendingLoad, bool]:
    """Record a transfer the bank made and credit the holder's purse from bank clearing; the
    same `bank_ref` again answers the first transfer and its load (created False)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount()
    if not bank_ref.strip():
        raise InvalidRequest(_("bank_ref is required."), field="bank_ref")
    if timezone.is_naive(ts):
        raise InvalidRequest(_("ts must carry its UTC offset."), field="ts")
    transfer = BankTransfer.objects.filter(bank_ref=bank_ref).first()
    if transfer is None:
        try:
            with transaction.atomic():
                return _transfer_new(bank_ref=bank_ref, cardholder_number=cardholder_number,
                                     amount=amount, ts=ts, by=by, channel=channel)
        except IntegrityError:
            # A concurrent report of the same transfer committed first.
            transfer = BankTransfer.objects.filter(bank_ref=bank_ref).first()
            if transfer is None:
                raise
    if _content(transfer) != (cardholder_number, amount, ts):
        raise BankRefConflict(bank_ref=bank_ref)
    load = PendingLoad.objects.select_related("card").get(load_id=transfer.load_id)
    return transfer, load, False


def _transfer_new(*, bank_ref: str, cardholder_number: str, amount: int, ts: dt.datetime,
                  by: Any, channel: str) -> tuple[BankTransfer, PendingLoad, bool]:
    holder = Cardholder.objects.filter(number=cardholder_number).first()
    if holder is None:
        raise UnknownCardholder(cardholder=cardholder_number)
    card = card_live_for(holder)
    if card is None:
        raise NoCardInUse(cardholder=cardholder_number)
    transfer = BankTransfer.objects.create(bank_ref=bank_ref, cardholder_number=cardholder_number,
                                           amount=amount, ts=ts)
    load = card_top_up(card=card, amount=amount, method="bank", by=by, reference=bank_ref,
                       channel=channel)
    transfer.load_id = load.load_id
    transfer.save(update_fields=["load_id"])
    line = BankStatementLine.objects.filter(bank_ref=bank_ref).first()
    resolved = False
    if line is not None and _content(line) == _content(transfer):
        resolved = _resolve_one_sided(
            ExceptionCode.BANK_ONLY, bank_ref,
            _("Resolved by itself: the bank's gateway reported the transfer."))
    audit_record(action="bank.transfer", actor=by, subject=transfer, subject_id=bank_ref,
                 after={**_snapshot(transfer), "card_no": card.card_no,
                        "load_id": load.load_id, "resolved_bank_only": resolved},
                 channel=channel)
    return transfer, load, True


# --- The bank's statement file ----------------------------------------------------------


def parse_statement(file_bytes: bytes) -> list[StatementRow]:
    """The rows of a CSV statement with header `bank_ref,cardholder,amount,ts`; every line
    valid, or InvalidStatement listing the lines at fault."""
    try:
        text = file_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = file_bytes[:exc.start].count(b"\n") + 1
        raise InvalidStatement(errors=[{"line": line, "message": _("The file is not UTF-8.")}]
                               ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    errors: list[dict[str, Any]] = []
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        header = []
    except csv.Error as exc:
        raise InvalidStatement(errors=[{"line": 1, "message": str(exc)}]) from None
    missing = [c for c in STATEMENT_COLUMNS if c not in header]
    if missing:
        raise InvalidStatement(errors=[{"line": 1, "message": _(
            "The header lacks the columns: %(cols)s.") % {"cols": ", ".join(missing)}}])
    at = {c: header.index(c) for c in STATEMENT_COLUMNS}
    rows: list[StatementRow] = []
    first_seen: dict[str, int] = {}
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append({"line": reader.line_num, "message": str(exc)})
            break
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        problems: list[str] = []
        if len(values) < len(header):
            problems.append(_("A column is missing."))
        else:
            row = _statement_row(line, {c: values[i].strip() for c, i in at.items()}, problems)
            if row is not None:
                if row.bank_ref in first_seen:
                    problems.append(_("bank_ref %(ref)s is already on line %(line)d.")
                                    % {"ref": row.bank_ref, "line": first_seen[row.bank_ref]})
                else:
                    first_seen[row.bank_ref] = line
                    rows.append(row)
        errors.extend({"line": line, "message": p} for p in problems)
    if errors:
        raise InvalidStatement(errors=errors)
    if not rows:
        raise InvalidStatement(errors=[{"line": 1, "message": _("The statement has no lines.")}])
    return rows


def _statement_row(line: int, raw: dict[str, str], problems: list[str]) -> StatementRow | None:
    ref, holder, amount, ts_text = raw["bank_ref"], raw["cardholder"], raw["amount"], raw["ts"]
    if not ref or len(ref) > 64:
        problems.append(_("bank_ref must be 1 to 64 characters."))
    if not holder or len(holder) > 32:
        problems.append(_("cardholder must be 1 to 32 characters."))
    if not _AMOUNT.match(amount) or int(amount) <= 0:
        problems.append(_("amount must be a positive whole number of fen."))
    ts: dt.datetime | None = None
    try:
        ts = parse_bank_ts(ts_text)
    except ValueError as exc:
        problems.append(str(exc))
    if problems or ts is None:
        return None
    return StatementRow(line=line, bank_ref=ref, cardholder=holder, amount=int(amount), ts=ts)


@transaction.atomic
def bank_statement_import(*, rows: list[StatementRow], filename: str, by: Any,
                          channel: str = "api") -> StatementSummary:
    """Store the statement's new lines (identical ones already stored are skipped; different
    ones refuse the whole file), then match both sides: lines the gateway never reported
    are `bank_only`; transfers within the statement's dates the bank does not list are
    `onecard_only`; exceptions whose other side now matches resolve themselves."""
    if not rows:
        raise InvalidStatement(errors=[{"line": 1, "message": _("The statement has no lines.")}])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_STATEMENTS])
    summary = StatementSummary(filename=filename[:255], lines=len(rows))
    refs = [r.bank_ref for r in rows]
    stored = {s.bank_ref: s for s in BankStatementLine.objects.filter(bank_ref__in=refs)}
    clashes = [
        {"line": r.line, "message": _("bank_ref %(ref)s was already uploaded (in %(file)s) "
                                      "with different content.")
         % {"ref": r.bank_ref, "file": stored[r.bank_ref].statement}}
        for r in rows if r.bank_ref in stored and _content(stored[r.bank_ref]) != r.content()
    ]
    if clashes:
        raise InvalidStatement(errors=clashes)
    new = [BankStatementLine(bank_ref=r.bank_ref, cardholder_number=r.cardholder,
                             amount=r.amount, ts=r.ts, statement=summary.filename)
           for r in rows if r.bank_ref not in stored]
    BankStatementLine.objects.bulk_create(new)
    summary.stored, summary.skipped = len(new), len(rows) - len(new)
    lines = {s.bank_ref: s for s in BankStatementLine.objects.filter(bank_ref__in=refs)}
    transfers = {t.bank_ref: t for t in BankTransfer.objects.filter(bank_ref__in=refs)}
    for ref in refs:
        line, transfer = lines[ref], transfers.get(ref)
        if transfer is not None and _content(transfer) == _content(line):
            summary.matched += 1
            if _resolve_one_sided(ExceptionCode.ONECARD_ONLY, ref, _(
                    "Resolved by itself: the bank's statement lists the transfer.")):
                summary.resolved.append(f"{ExceptionCode.ONECARD_ONLY}:{ref}")
            continue
        extra: dict[str, Any] = {"statement": line.statement}
        if transfer is not None:
            extra.update(problem="content_differs", onecard=_snapshot(transfer))
        if _raise_one_sided(ExceptionCode.BANK_ONLY, line, **extra):
            summary.bank_only.append(ref)
    zone = ZoneInfo(settings.TIME_ZONE)
    first = min(local_date(r.ts) for r in rows)
    last = max(local_date(r.ts) for r in rows)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    unlisted = (BankTransfer.objects.filter(ts__gte=start, ts__lt=end)
                .exclude(bank_ref__in=BankStatementLine.objects.values("bank_ref"))
                .order_by("ts", "bank_ref"))
    for transfer in unlisted:
        if _raise_one_sided(ExceptionCode.ONECARD_ONLY, transfer, statement=summary.filename,
                            statement_from=first.isoformat(), statement_to=last.isoformat()):
            summary.onecard_only.append(transfer.bank_ref)
    audit_record(action="bank.statement_import", actor=by, subject_type="bank_statement",
                 subject_id=summary.filename, after=summary.as_dict(), channel=channel)
    return summary
