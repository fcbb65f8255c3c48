"""Merchants, each with the payable account that owes them their sales until settlement."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts import ledger
from accounts.audit import audit_record
from accounts.errors import DuplicateMerchant
from accounts.models import Merchant
from core.errors import InvalidRequest


@transaction.atomic
def merchant_create(
    *, code: str, name: str, fee_rate_bp: int, by: Any, channel: str = "api"
) -> Merchant:
    if not 0 <= fee_rate_bp <= 10000:
        raise InvalidRequest(_("fee_rate_bp is 0 to 10000 basis points."))
    try:
        with transaction.atomic():
            merchant = Merchant.objects.create(code=code, name=name, fee_rate_bp=fee_rate_bp)
    except IntegrityError as exc:
        raise DuplicateMerchant(_("Merchant %(code)s already exists.") % {"code": code}) from exc
    ledger.account_merchant_payable(merchant)
    audit_record(
        action="merchant.create",
        actor=by,
        subject=merchant,
        subject_id=code,
        after={"code": code, "name": name, "fee_rate_bp": fee_rate_bp},
        channel=channel,
    )
    return merchant
