"""Merchant settlement: per merchant and business day, the accepted purchases counted,
the fee taken, and the net paid out (posted from the merchant payable to bank clearing).

The business day is the day the purchases were RECEIVED, in settings.TIME_ZONE (as the
nightly reconciliation counts it): a record uploaded late belongs to the day it arrived,
so a day once over never gains purchases and is settled exactly once per merchant.

Fee rounding: fee = gross x fee_rate_bp / 10000 fen, rounded to the nearest fen, a half
fen to the even fen (banker's rounding, as Decimal ROUND_HALF_EVEN), in integers only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.ledger import posting_create
from accounts.ledger_accounts import bank_clearing, fee_income, merchant_payable_account
from accounts.models import Merchant, PostingKind
from core.errors import InvalidRequest
from settlement.models import MerchantSettlement
from settlement.services import business_day_bounds
from terminals.models import RecordStatus, RecordType, TerminalRecord

BP_PER_UNIT = 10_000


def round_half_even_div(numerator: int, denominator: int) -> int:
    """numerator / denominator to the nearest integer, exact halves to the even one."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(numerator, denominator)  # floor; 0 <= remainder < den
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def settlement_fee(gross: int, fee_rate_bp: int) -> int:
    """The fee in fen on `gross` fen at `fee_rate_bp` basis points, half to even."""
    return round_half_even_div(gross * fee_rate_bp, BP_PER_UNIT)


def day_purchases(business_date: dt.date) -> dict[int, tuple[int, int]]:
    """merchant id -> (count, gross) of accepted purchases received that business day."""
    start, end = business_day_bounds(business_date)
    rows = (
        TerminalRecord.objects.filter(
            type=RecordType.PURCHASE, status=RecordStatus.ACCEPTED,
            received_at__gte=start, received_at__lt=end, terminal__merchant__isnull=False,
        )
        .values("terminal__merchant")
        .annotate(count=Count("id"), gross=Sum("amount"))
        .order_by()
    )
    return {r["terminal__merchant"]: (r["count"], r["gross"] or 0) for r in rows}


@transaction.atomic
def settlement_run(*, business_date: dt.date, by: Any, channel: str = "api",
                   now: dt.datetime | None = None) -> list[MerchantSettlement]:
    """Settle every merchant with purchases on `business_date` not settled yet; returns
    the settlements this run made (none when the day was settled already).

    Only a day that is over may be settled: later uploads would otherwise arrive in a
    day already settled."""
    now = now or timezone.now()
    _start, end = business_day_bounds(business_date)
    if end > now:
        raise InvalidRequest(
            _("The business day %(date)s is not over yet.") % {"date": business_date},
            field="date",
        )
    totals = day_purchases(business_date)
    made: list[MerchantSettlement] = []
    # Merchants locked one by one in code order: a run at the same time waits, then
    # finds the merchant settled.
    order = Merchant.objects.filter(pk__in=totals).order_by("code").values_list("pk", flat=True)
    for merchant_id in order:
        merchant = Merchant.objects.select_for_update().get(pk=merchant_id)
        if MerchantSettlement.objects.filter(merchant=merchant,
                                             business_date=business_date).exists():
            continue
        count, gross = totals[merchant_id]
        if count == 0:
            continue
        made.append(_settle(merchant, business_date, count, gross, by, channel))
    return made


def _settle(merchant: Merchant, day: dt.date, count: int, gross: int, by: Any,
            channel: str) -> MerchantSettlement:
    fee = settlement_fee(gross, merchant.fee_rate_bp)
    net = gross - fee
    posting_id = None
    if gross:  # purchases of 0 fen move nothing
        posting_id = posting_create(
            key=f"settlement:{merchant.code}:{day.isoformat()}",
            kind=PostingKind.SETTLEMENT,
            legs=[(merchant_payable_account(merchant.code), -gross), (fee_income(), fee),
                  (bank_clearing(), net)],
            by=by,
            memo=f"settlement {merchant.code} {day.isoformat()}",
        ).pk
    row = MerchantSettlement.objects.create(
        merchant=merchant, business_date=day, count=count, gross=gross, fee=fee, net=net,
        fee_rate_bp=merchant.fee_rate_bp, posting_id=posting_id,
    )
    audit_record(
        action="settlement.merchant_day", actor=by, subject=row,
        subject_id=f"{merchant.code}:{day.isoformat()}",
        after={"count": count, "gross": gross, "fee": fee, "net": net,
               "fee_rate_bp": merchant.fee_rate_bp, "posting_id": posting_id},
        channel=channel,
    )
    return row
