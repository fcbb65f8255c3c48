"""Clerk cash close: what the drawer should hold, what was counted, the difference."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.errors import InvalidAmount, InvalidStatus
from accounts.selectors import cash_drawer_movements
from accounts.services import cash_difference_post
from settlement.errors import ShiftAlreadyOpen
from settlement.models import ClerkShift


@transaction.atomic
def shift_open(*, clerk: Any, by: Any, channel: str = "api") -> ClerkShift:
    try:
        with transaction.atomic():
            shift = ClerkShift.objects.create(clerk=clerk, opened_at=timezone.now())
    except IntegrityError as exc:
        raise ShiftAlreadyOpen() from exc
    audit_record(action="cash.shift_open", actor=by, subject=shift, subject_id=str(shift.pk),
                 after={"clerk": clerk.get_username()}, channel=channel)
    return shift


@transaction.atomic
def shift_close(*, shift: ClerkShift, counted: int, by: Any, channel: str = "api") -> ClerkShift:
    """Close with the counted cash; a difference is posted to suspense and reported."""
    if isinstance(counted, bool) or not isinstance(counted, int) or counted < 0:
        raise InvalidAmount(_("The counted cash is zero or more fen."))
    shift = ClerkShift.objects.select_for_update().select_related("clerk").get(pk=shift.pk)
    if shift.closed_at is not None:
        raise InvalidStatus(_("This shift is already closed."), status="closed")
    moved = cash_drawer_movements(shift.clerk, shift.opened_at)
    shift.cash_in, shift.cash_out, shift.expected = moved.cash_in, moved.cash_out, moved.held
    shift.counted, shift.difference = counted, counted - moved.held
    if shift.difference:
        shift.posting_id = cash_difference_post(clerk=shift.clerk, difference=shift.difference,
                                                key=f"shift:{shift.pk}", by=by, channel=channel)
    shift.closed_at = timezone.now()
    shift.save()
    audit_record(action="cash.shift_close", actor=by, subject=shift, subject_id=str(shift.pk),
                 after={"expected": shift.expected, "counted": counted,
                        "difference": shift.difference}, channel=channel)
    return shift
