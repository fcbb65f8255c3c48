"""Nightly reconciliation (terminal-protocol.md §7): it never changes accepted money
records; it raises exceptions for a person to resolve. Every exception has a `key`
naming what it is about, so a second run for the same day raises nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.errors import InvalidStatus
from accounts.selectors import BreachRule, card_get, cards_by_id, ledger_check
from accounts.services import card_suspect_clone, purse_adjust
from core.errors import InvalidRequest
from settlement.errors import NothingToAdjust, ProposalDiffers, SecondApproverRequired
from settlement.models import ExceptionCode, ExceptionStatus, ReconciliationRun, ReconException
from terminals import selectors as records
from terminals.models import RecordType

log = logging.getLogger("onecard.reconcile")


def business_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = ZoneInfo(settings.TIME_ZONE)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    return start, start + dt.timedelta(days=1)


class _Raiser:
    def __init__(self, day: dt.date) -> None:
        self.day = day
        self.raised: Counter[str] = Counter()

    def __call__(self, code: str, key: str, *, card_no: str = "", terminal_id: str = "",
                 records: Iterable[dict[str, Any]] = (), **detail: Any) -> bool:
        _obj, created = ReconException.objects.get_or_create(
            key=f"{code}:{key}",
            defaults={"code": code, "business_date": self.day, "card_no": card_no,
                      "terminal_id": terminal_id, "records": list(records), "detail": detail},
        )
        if created:
            self.raised[code] += 1
        return created


def reconcile_day(*, business_date: dt.date, by: Any = None,
                  now: dt.datetime | None = None) -> ReconciliationRun:
    """Raise every §7 exception for the business day, then check the ledger."""
    now = now or timezone.now()
    start, end = business_day_bounds(business_date)
    run = ReconciliationRun.objects.create(business_date=business_date, started_at=now)
    raise_ = _Raiser(business_date)
    with transaction.atomic():
        _quarantined(raise_, start, end)
        _clock_skew(raise_, start, end)
        _terminal_seq_gaps(raise_)
        touched = records.cards_with_records_received(start, end)
        _card_chains(raise_, touched, now)
        _blacklisted_and_replaced_use(raise_, start, end, by)
    breaches = ledger_check()
    for breach in breaches:
        if breach.rule == BreachRule.ACCOUNT_EQUALS_CARD_PLUS_PENDING:
            # The key names the card and purse as it always has ("<card_no>:card <card_no>
            # <purse>:<day>"), so a day reconciled again raises nothing twice.
            raise_(ExceptionCode.CARD_DB_IMBALANCE,
                   f"{breach.card_no}:{breach.subject}:{business_date}",
                   card_no=breach.card_no, problem=breach.detail, purse=breach.purse,
                   account=breach.balance, card=breach.on_card, pending=breach.pending)
    hard = [b for b in breaches if b.hard]
    if hard:
        log.error("LEDGER BREACH on %s: %s", business_date, hard)
    run.finished_at = timezone.now()
    run.raised = dict(raise_.raised)
    run.ledger_breaches = [b.as_dict() for b in hard]
    run.save(update_fields=["finished_at", "raised", "ledger_breaches"])
    audit_record(action="reconcile.run", actor=by, subject=run, subject_id=str(business_date),
                 after={"raised": run.raised, "ledger_breaches": len(hard)}, channel="job")
    return run


def _ref(r: Any) -> dict[str, Any]:
    terminal_id = getattr(r, "terminal_code", None) or r.terminal.terminal_id
    return {"terminal_id": terminal_id, "terminal_seq": r.terminal_seq}


def _quarantined(raise_: _Raiser, start: dt.datetime, end: dt.datetime) -> None:
    for r in records.rejected_received(start, end):
        raise_(ExceptionCode.QUARANTINED_RECORD, f"rejected:{r.terminal_id}:{r.terminal_seq}",
               card_no=r.card_no, terminal_id=r.terminal.terminal_id, records=[_ref(r)],
               status="rejected", reason=r.reason, detail=r.detail)
    for q in records.conflicts_received(start, end):
        raise_(ExceptionCode.QUARANTINED_RECORD,
               f"conflict:{q.terminal_id}:{q.terminal_seq}:{q.content_hash}",
               terminal_id=q.terminal.terminal_id, records=[_ref(q)], status="conflict",
               raw=q.raw)


def _clock_skew(raise_: _Raiser, start: dt.datetime, end: dt.datetime) -> None:
    for r in records.flagged_received(start, end):
        if "clock_skew" in r.flags:
            raise_(ExceptionCode.CLOCK_SKEW, f"{r.terminal_id}:{r.terminal_seq}",
                   card_no=r.card_no, terminal_id=r.terminal.terminal_id, records=[_ref(r)],
                   ts=r.ts, received_at=r.received_at.isoformat())


def _terminal_seq_gaps(raise_: _Raiser) -> None:
    open_gaps = {e.key: e for e in ReconException.objects.filter(
        code=ExceptionCode.TERMINAL_SEQ_GAP, status=ExceptionStatus.OPEN)}
    seen = set()
    for terminal_id, first, last in records.terminal_seq_gaps():
        key = f"{ExceptionCode.TERMINAL_SEQ_GAP}:{terminal_id}:{first}-{last}"
        seen.add(key)
        raise_(ExceptionCode.TERMINAL_SEQ_GAP, f"{terminal_id}:{first}-{last}",
               terminal_id=terminal_id, missing_from=first, missing_to=last)
    _close_healed(open_gaps, seen)


def _close_healed(open_ones: dict[str, ReconException], still: set[str]) -> None:
    """A gap whose records have since arrived resolves itself."""
    for key, exc in open_ones.items():
        if key not in still:
            exc.status, exc.resolved_at = ExceptionStatus.RESOLVED, timezone.now()
            exc.note = _("Resolved by itself: the missing records arrived.")
            exc.save(update_fields=["status", "resolved_at", "note"])


def _card_chains(raise_: _Raiser, card_ids: set[int], now: dt.datetime) -> None:
    """Per card: counter conflicts (clone), chain breaks, and gaps past the settling window."""
    window = dt.timedelta(hours=settings.ONECARD_SETTLING_WINDOW_HOURS)
    cards = cards_by_id(card_ids)
    open_gaps = {e.key: e for e in ReconException.objects.filter(
        code=ExceptionCode.CARD_SEQ_GAP, status=ExceptionStatus.OPEN, card_no__in=[
            c.card_no for c in cards.values()])}
    seen: set[str] = set()
    by_card: dict[int, list[Any]] = defaultdict(list)
    for r in records.purse_records_of_cards(card_ids):
        if r.card_id is not None:
            by_card[r.card_id].append(r)
    for card_id, rows in by_card.items():
        card = cards[card_id]
        by_seq: dict[int, list[Any]] = defaultdict(list)
        for r in rows:
            by_seq[r.card_seq].append(r)
        for seq, same in by_seq.items():
            if len(same) > 1 and raise_(ExceptionCode.CARD_SEQ_CONFLICT, f"{card.card_no}:{seq}",
                                        card_no=card.card_no, records=[_ref(r) for r in same]):
                card_suspect_clone(card=card, by=None, detail=f"card_seq {seq}")
        seqs = sorted(by_seq)
        expected = 1
        last: dict[str, tuple[int, int]] = {}  # purse -> (card_seq, balance after)
        for seq in seqs:
            r = by_seq[seq][0]
            if seq > expected:
                later = min(x.received_at for x in by_seq[seq])
                if now - later > window:
                    key = f"{ExceptionCode.CARD_SEQ_GAP}:{card.card_no}:{expected}-{seq - 1}"
                    seen.add(key)
                    raise_(ExceptionCode.CARD_SEQ_GAP, key.split(":", 1)[1], card_no=card.card_no,
                           missing_from=expected, missing_to=seq - 1)
                last.clear()  # what the missing records did is unknown: restart the chains
            after = r.balance_before + (r.amount if r.type == RecordType.LOAD else -r.amount)
            prev = last.get(r.purse)
            if prev is not None and prev[1] != r.balance_before:
                raise_(ExceptionCode.BALANCE_CHAIN_BREAK, f"{card.card_no}:{seq}",
                       card_no=card.card_no, records=[_ref(r)], purse=r.purse,
                       expected_balance_before=prev[1], balance_before=r.balance_before)
            last[r.purse] = (seq, after)
            expected = seq + 1
    _close_healed(open_gaps, seen)


def _blacklisted_and_replaced_use(raise_: _Raiser, start: dt.datetime, end: dt.datetime,
                                  by: Any) -> None:
    for r, listed_at_version, applied in records.purchases_on_listed_cards(start, end):
        if applied >= listed_at_version:
            raise_(ExceptionCode.BLACKLISTED_CARD_USED, f"{r.terminal_id}:{r.terminal_seq}",
                   card_no=r.card_no, terminal_id=r.terminal.terminal_id, records=[_ref(r)],
                   listed_at_version=listed_at_version, terminal_had_applied=applied)
    for r, replaced_at in records.purchases_after_replacement(start, end):
        raise_(ExceptionCode.REPLACED_CARD_USED, f"{r.terminal_id}:{r.terminal_seq}",
               card_no=r.card_no, terminal_id=r.terminal.terminal_id, records=[_ref(r)],
               replaced_at=replaced_at.isoformat(), ts=r.ts)


# --- The exception workflow ------------------------------------------------------------


RESOLVE_ACTIONS = {"none": ExceptionStatus.RESOLVED, "adjust": ExceptionStatus.RESOLVED,
                   "write_off": ExceptionStatus.WRITTEN_OFF}


@dataclass
class Resolution:
    exception: ReconException
    awaiting_approval: bool = False


@transaction.atomic
def exception_resolve(*, exception: ReconException, action: str, note: str, by: Any,
                      amount: int | None = None, purse: str = "main",
                      channel: str = "api") -> Resolution:
    """Close an exception with a note: `none` (explained, nothing to move), `adjust` (a
    correcting posting through suspense; above the threshold a second finance user
    must approve the same amount) or `write_off`."""
    if action not in RESOLVE_ACTIONS:
        raise InvalidRequest(_("action must be none, adjust or write_off."), field="action")
    if not note.strip():
        raise InvalidRequest(_("A note is required."), field="note")
    exc = ReconException.objects.select_for_update().get(pk=exception.pk)
    if exc.status != ExceptionStatus.OPEN:
        raise InvalidStatus(_("This exception is already closed."), status=exc.status)
    if action == "adjust":
        if amount is None:
            raise InvalidRequest(_("An adjustment needs an amount."), field="amount")
        if not _adjust(exc, amount=amount, purse=purse, note=note, by=by):
            return Resolution(exception=exc, awaiting_approval=True)
    exc.status = RESOLVE_ACTIONS[action]
    exc.note, exc.resolved_at = note, timezone.now()
    exc.resolved_by = by if getattr(by, "pk", None) else None
    exc.save(update_fields=["status", "note", "resolved_at", "resolved_by"])
    audit_record(action=f"exception.{action}", actor=by, subject=exc, subject_id=str(exc.pk),
                 after={"code": exc.code, "status": exc.status, "note": note,
                        "amount": amount}, channel=channel)
    return Resolution(exception=exc)


def _adjust(exc: ReconException, *, amount: int, purse: str, note: str, by: Any) -> bool:
    """Post the adjustment, or record it as a proposal awaiting a second approver.
    True when posted."""
    if not exc.card_no:
        raise NothingToAdjust()
    proposal = {"amount": amount, "purse": purse}
    if abs(amount) > settings.ONECARD_ADJUST_APPROVAL_THRESHOLD:
        if exc.proposed is None:
            exc.proposed, exc.proposed_by = proposal, by
            exc.save(update_fields=["proposed", "proposed_by"])
            audit_record(action="exception.adjust_proposed", actor=by, subject=exc,
                         subject_id=str(exc.pk), after={**proposal, "note": note})
            return False
        if exc.proposed_by_id == getattr(by, "pk", None):
            raise SecondApproverRequired()
        if exc.proposed != proposal:
            raise ProposalDiffers()
    purse_adjust(card=card_get(exc.card_no), purse=purse, amount=amount, by=by, reason=note,
                 key=f"exception:{exc.pk}")
    return True
