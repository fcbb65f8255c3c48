"""Consumption correction (消费更正): the card office or finance gives back part or all
of a purchase; never more than the purchase in total."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from accounts.errors import InvalidAmount
from accounts.services import purchase_refund_post
from core.errors import NotFound
from settlement.errors import RefundExceedsPurchase
from settlement.models import PurchaseRefund
from terminals.selectors import purchase_for_refund


@transaction.atomic
def purchase_refund(*, terminal_id: str, terminal_seq: int, amount: int, reason: str,
                    by: Any) -> PurchaseRefund:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount()
    record = purchase_for_refund(terminal_id, terminal_seq)
    if record is None or record.card is None or record.amount is None:
        raise NotFound(_("No accepted purchase %(t)s #%(s)d.") % {"t": terminal_id,
                                                                   "s": terminal_seq})
    done = PurchaseRefund.objects.filter(terminal_id=terminal_id, terminal_seq=terminal_seq)
    already = int(done.aggregate(t=Sum("amount"))["t"] or 0)
    if already + amount > record.amount:
        raise RefundExceedsPurchase(
            _("%(done)d of %(total)d fen are already refunded; at most %(left)d more.")
            % {"done": already, "total": record.amount, "left": record.amount - already},
            refundable=record.amount - already,
        )
    merchant = record.terminal.merchant
    assert merchant is not None  # a purchase comes from a POS, which has a merchant
    # The n-th refund of this purchase: numbered under the purchase's row lock, so two
    # refunds at once get 1 and 2. A retry of the same request is a new refund to this
    # function; the API's Idempotency-Key (core.idempotency) is what answers it once.
    posting_id, load = purchase_refund_post(
        card=record.card, purse=record.purse, amount=amount, merchant_code=merchant.code,
        by=by, reason=reason, key=f"{terminal_id}:{terminal_seq}:{done.count() + 1}",
    )
    return PurchaseRefund.objects.create(
        terminal_id=terminal_id, terminal_seq=terminal_seq, card_no=record.card.card_no,
        amount=amount, reason=reason, posting_id=posting_id,
        load_id=load.load_id if load else "", created_by=by if getattr(by, "pk", None) else None,
    )
