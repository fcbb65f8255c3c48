"""Money to and from holders' purses outside the terminals: top-ups, finance's
adjustments through suspense, purchase refunds, drawer count differences, and subsidy
batches."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts import ledger
from accounts.audit import audit_record
from accounts.errors import CardholdersWithoutCard, InvalidAmount, UnknownCardholders
from accounts.ledger_accounts import (
    cash_drawer_account,
    merchant_payable_account,
    purse_account,
    suspense,
)
from accounts.models import (
    LOADABLE_STATUSES,
    AccountKind,
    Card,
    Cardholder,
    LoadSource,
    PendingLoad,
    PostingKind,
    Purse,
    SubsidyBatch,
)
from accounts.selectors import card_held, card_locked
from accounts.services._shared import money_source
from core.errors import InvalidRequest


def _require_positive(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount()


def _purse(value: str) -> Purse:
    if value not in Purse.values:
        raise InvalidRequest(_("purse must be main or subsidy."), field="purse")
    return Purse(value)


@transaction.atomic
def card_top_up(
    *,
    card: Card,
    amount: int,
    purse: str = Purse.MAIN,
    method: str,
    by: Any,
    reference: str = "",
    channel: str = "api",
) -> PendingLoad:
    """Credit the holder's purse at once; the money reaches the card as a pending load."""
    _require_positive(amount)
    purse = _purse(purse)
    source = money_source(method, by)
    card = card_held(card)  # its status may not change; the ingest may still move it
    card.require_status(*LOADABLE_STATUSES)
    load = PendingLoad(
        card=card,
        purse=purse,
        amount=amount,
        source=LoadSource.TOP_UP,
        method=method,
        reference=reference[:128],
        created_by=by if getattr(by, "pk", None) else None,
    )
    load.posting = ledger.posting_create(
        key=f"top_up:{load.load_id}",
        kind=PostingKind.TOP_UP,
        card=card,
        by=by,
        legs=[(source, -amount), (purse_account(card.cardholder, purse), amount)],
        memo=f"Top-up ({method}) {reference}"[:255],
    )
    load.save(force_insert=True)
    audit_record(
        action="card.top_up",
        actor=by,
        subject=card,
        channel=channel,
        after={
            "load_id": load.load_id,
            "amount": amount,
            "purse": purse,
            "method": method,
            "reference": reference,
        },
    )
    return load


@transaction.atomic
def purse_adjust(*, card: Card, purse: str, amount: int, by: Any, reason: str,
                 key: str, channel: str = "api") -> PendingLoad | None:
    """A correction decided by finance, through suspense. A positive amount credits the
    holder's purse and owes it to the card as a correction load; a negative one takes
    back money the holder's account holds beyond the card and its pending loads."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidAmount(_("The adjustment is a whole number of fen, not zero."))
    purse = _purse(purse)
    card = card_locked(card)
    code = purse_account(card.cardholder, purse)
    posting = ledger.posting_create(
        key=f"adjust:{key}", kind=PostingKind.ADJUSTMENT, card=card, by=by, memo=reason[:255],
        legs=[(suspense(), -amount), (code, amount)],
    )
    load = _correction_load(card=card, purse=purse, amount=amount, reason=reason,
                            posting=posting, by=by) if amount > 0 else None
    audit_record(action="card.adjust", actor=by, subject=card, channel=channel,
                 after={"purse": purse, "amount": amount, "reason": reason,
                        "load_id": load.load_id if load else None})
    return load


@transaction.atomic
def purchase_refund_post(
    *, card: Card, purse: str, amount: int, merchant_code: str, by: Any, reason: str, key: str,
    channel: str = "api",
) -> tuple[int, PendingLoad | None]:
    """Give back (part of) a purchase: merchant payable → the holder's purse, owed to the
    card as a correction load (a closed card's holder gets it on the next card)."""
    _require_positive(amount)
    purse = _purse(purse)
    card = card_locked(card)
    posting = ledger.posting_create(
        key=f"refund:{key}", kind=PostingKind.REFUND, card=card, by=by, memo=reason[:255],
        legs=[(merchant_payable_account(merchant_code), -amount),
              (purse_account(card.cardholder, purse), amount)],
    )
    load = _correction_load(card=card, purse=purse, amount=amount, reason=reason,
                            posting=posting, by=by)
    audit_record(action="card.purchase_refund", actor=by, subject=card, channel=channel,
                 after={"purse": purse, "amount": amount, "merchant": merchant_code,
                        "reason": reason, "posting": posting.pk,
                        "load_id": load.load_id if load else None})
    return posting.pk, load


@transaction.atomic
def cash_difference_post(*, clerk: Any, difference: int, key: str, by: Any,
                         channel: str = "api") -> int:
    """Book a drawer count: counted − expected. A shortage leaves the drawer (it holds
    less than the books said) and stands in suspense against the clerk; an overage the
    other way. Returns the posting id."""
    if isinstance(difference, bool) or not isinstance(difference, int) or difference == 0:
        raise InvalidAmount(_("Only a difference other than zero is posted."))
    posting = ledger.posting_create(
        key=f"cash_count:{key}", kind=PostingKind.CASH_COUNT, by=by,
        memo=f"Drawer count of {clerk.get_username()}",
        legs=[(cash_drawer_account(clerk), -difference), (suspense(), difference)],
    )
    audit_record(action="cash.count_difference", actor=by, subject=clerk,
                 subject_type="user", subject_id=str(clerk.pk),
                 after={"difference": difference, "posting": posting.pk}, channel=channel)
    return int(posting.pk)


# --- Subsidies -----------------------------------------------------------------------


@dataclass
class SubsidyResult:
    batch: SubsidyBatch
    created: bool


def _subsidy_key(name: str, purse: str, entries: Sequence[tuple[str, int]]) -> str:
    canonical = json.dumps(
        [name, purse, sorted(entries)], separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@transaction.atomic
def subsidy_batch_create(
    *, name: str, purse: str, entries: Sequence[dict[str, Any]], by: Any, channel: str = "api"
) -> SubsidyResult:
    """Grant a subsidy: one posting from the subsidy fund, one pending load per holder.

    All or nothing: an unknown holder, or one without a card in use, refuses the batch.
    The same batch (same name, purse and entries) submitted again creates nothing."""
    purse = _purse(purse)
    pairs = [(str(e["cardholder"]), e["amount"]) for e in entries]
    if not pairs:
        raise InvalidRequest(_("A subsidy batch needs at least one entry."), field="entries")
    for _number, amount in pairs:
        _require_positive(amount)
    key = _subsidy_key(name, purse, pairs)
    existing = SubsidyBatch.objects.filter(batch_key=key).first()
    if existing is not None:
        return SubsidyResult(batch=existing, created=False)
    numbers = {n for n, _a in pairs}
    holders = {h.number: h for h in Cardholder.objects.filter(number__in=numbers)}
    unknown = sorted(numbers - set(holders))
    if unknown:
        raise UnknownCardholders(cardholders=unknown)
    cards = {
        c.cardholder_id: c
        for c in Card.objects.select_for_update(no_key=True)
        .filter(cardholder__in=holders.values(), status__in=LOADABLE_STATUSES)
        .order_by("id")
    }
    without = sorted(h.number for h in holders.values() if h.pk not in cards)
    if without:
        raise CardholdersWithoutCard(cardholders=without)
    total = sum(a for _n, a in pairs)
    fund = ledger.account_singleton(AccountKind.SUBSIDY_FUND)
    legs: list[ledger.Leg] = [(fund, -total)]
    legs += [(ledger.account_purse(holders[n], purse), a) for n, a in pairs]
    try:
        with transaction.atomic():
            posting = ledger.posting_create(
                key=f"subsidy:{key}", kind=PostingKind.SUBSIDY, by=by, legs=legs, memo=name[:255]
            )
    except IntegrityError:  # the same batch committed concurrently
        return SubsidyResult(batch=SubsidyBatch.objects.get(batch_key=key), created=False)
    batch = SubsidyBatch.objects.create(
        batch_key=key,
        name=name,
        purse=Purse(purse),
        count=len(pairs),
        total=total,
        posting=posting,
        created_by=by if getattr(by, "pk", None) else None,
    )
    PendingLoad.objects.bulk_create(
        [
            PendingLoad(
                card=cards[holders[n].pk],
                purse=purse,
                amount=a,
                source=LoadSource.SUBSIDY,
                reference=name[:128],
                posting=posting,
                subsidy_batch=batch,
                created_by=batch.created_by,
            )
            for n, a in pairs
        ]
    )
    audit_record(
        action="subsidy.grant",
        actor=by,
        subject=batch,
        subject_id=str(batch.pk),
        after={"name": name, "purse": purse, "count": len(pairs), "total": total},
        channel=channel,
    )
    return SubsidyResult(batch=batch, created=True)


def _correction_load(*, card: Card, purse: str, amount: int, reason: str, posting: Any,
                     by: Any) -> PendingLoad | None:
    """Money credited to a holder's purse is owed to the card as a correction load; a
    closed card's holder gets it on the next card (replacement carries pending loads)."""
    if not card.is_live:
        return None
    return PendingLoad.objects.create(
        card=card, purse=purse, amount=amount, source=LoadSource.CORRECTION,
        reference=reason[:128], posting=posting,
        created_by=by if getattr(by, "pk", None) else None,
    )
