"""Reads of the settlement app: exceptions and reconciliation runs, card readings, clerk
shifts, merchant settlements. The API and the statements read through these."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.models import Card, Merchant
from core.errors import NotFound
from settlement.models import (
    CardReading,
    ClerkShift,
    MerchantSettlement,
    ReconciliationRun,
    ReconException,
)
from settlement.services import business_day_bounds

# --- Reconciliation -----------------------------------------------------------------------


def exception_list(*, status: str | None = None, code: str | None = None,
                   business_date: dt.date | None = None) -> QuerySet[ReconException]:
    """Exceptions, newest first, of a status, a code and a business day when given."""
    qs = ReconException.objects.order_by("-raised_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if code:
        qs = qs.filter(code=code)
    if business_date is not None:
        qs = qs.filter(business_date=business_date)
    return qs


def exception_get(exception_id: int) -> ReconException:
    exc = ReconException.objects.filter(pk=exception_id).first()
    if exc is None:
        raise NotFound(_("No exception %(id)d.") % {"id": exception_id})
    return exc


def reconciliation_run_list() -> QuerySet[ReconciliationRun]:
    """Runs, the latest started first."""
    return ReconciliationRun.objects.order_by("-started_at", "-id")


# --- Card readings --------------------------------------------------------------------------


def card_reading_list(card: Card) -> QuerySet[CardReading]:
    """The readings of a card, newest first."""
    return (CardReading.objects.filter(card_no=card.card_no).select_related("read_by")
            .order_by("-read_at", "-id"))


# --- The counter ---------------------------------------------------------------------------


def shift_list(*, day: dt.date, clerk: str | None = None) -> QuerySet[ClerkShift]:
    """Shifts opened on a business day, of one clerk (by username) when given."""
    start, end = business_day_bounds(day)
    qs = ClerkShift.objects.filter(opened_at__gte=start, opened_at__lt=end)
    if clerk:
        qs = qs.filter(clerk__username=clerk)
    return qs.select_related("clerk").order_by("-opened_at", "-id")


def shift_get(shift_id: int) -> ClerkShift:
    shift = ClerkShift.objects.select_related("clerk").filter(pk=shift_id).first()
    if shift is None:
        raise NotFound(_("No shift %(id)d.") % {"id": shift_id})
    return shift


# --- Merchant settlements -------------------------------------------------------------------


def merchant_get(code: str) -> Merchant:
    merchant = Merchant.objects.filter(code=code).first()
    if merchant is None:
        raise NotFound(_("No merchant %(code)s.") % {"code": code})
    return merchant


def settlements_of_day(business_date: dt.date) -> list[MerchantSettlement]:
    return list(MerchantSettlement.objects.filter(business_date=business_date)
                .select_related("merchant").order_by("merchant__code"))


def settlements_of_month(*, year: int, month: int,
                         merchant: Merchant | None = None) -> list[MerchantSettlement]:
    qs = MerchantSettlement.objects.filter(business_date__year=year, business_date__month=month)
    if merchant is not None:
        qs = qs.filter(merchant=merchant)
    return list(qs.select_related("merchant").order_by("business_date", "merchant__code"))
