"""Every write of the accounts app. Each service is one transaction that also writes
its audit event; the API, the admin, commands and jobs all call these.

Lock order (shared with `accounts.ledger` and the terminal ingest): cardholder ->
cards by id -> pending loads -> ledger accounts by id -> blacklist counter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import ledger
from accounts.audit import audit_record
from accounts.errors import (
    ActiveCardExists,
    CardholdersWithoutCard,
    DuplicateMerchant,
    DuplicateNumber,
    ImportFailed,
    InvalidAmount,
    InvalidStatus,
    UidInUse,
    UnknownCardholders,
)
from accounts.keys import current_purse_key_version
from accounts.models import (
    BLACKLISTED_STATUSES,
    LIVE_STATUSES,
    LOADABLE_STATUSES,
    PURSE_ACCOUNT_KIND,
    AccountKind,
    BlacklistAction,
    BlacklistCounter,
    BlacklistVersion,
    Card,
    Cardholder,
    CardholderKind,
    CardholderStatus,
    CardNoCounter,
    CardStatus,
    LoadSource,
    LoadStatus,
    Merchant,
    OrgUnit,
    OrgUnitKind,
    PendingLoad,
    Purse,
    SubsidyBatch,
    TopUpMethod,
)
from accounts.selectors import card_locked
from core.db import bulk_cursor
from core.errors import InvalidRequest

__all__ = ["audit_record"]


def _now() -> dt.datetime:
    return timezone.now()


def _require_positive(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount()


def _purse(value: str) -> Purse:
    if value not in Purse.values:
        raise InvalidRequest(_("purse must be main or subsidy."), field="purse")
    return Purse(value)


def _card_snapshot(card: Card) -> dict[str, Any]:
    return {
        "status": card.status,
        "blacklisted": card.blacklisted,
        "deposit": card.deposit,
        "card_main": card.card_main,
        "card_subsidy": card.card_subsidy,
    }


# --- Organisation and cardholders -----------------------------------------------------


def org_unit_ensure(
    *,
    code: str,
    by: Any,
    name: str = "",
    kind: str = OrgUnitKind.DEPARTMENT,
    parent: OrgUnit | None = None,
    channel: str = "api",
) -> OrgUnit:
    unit = OrgUnit.objects.filter(code=code).first()
    if unit is not None:
        return unit
    unit = OrgUnit.objects.create(code=code, name=name or code, kind=kind, parent=parent)
    audit_record(
        action="org_unit.create",
        actor=by,
        subject=unit,
        subject_id=code,
        after={"code": code, "name": unit.name, "kind": kind},
        channel=channel,
    )
    return unit


def _portal_user(number: str, password: str | None) -> Any:
    User = get_user_model()
    user = User(username=f"holder:{number}")
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def cardholder_create(
    *,
    number: str,
    name: str,
    kind: str,
    by: Any,
    department: str | None = None,
    valid_until: dt.date | None = None,
    phone: str = "",
    email: str = "",
    password: str | None = None,
    channel: str = "api",
) -> Cardholder:
    if Cardholder.objects.filter(number=number).exists():
        raise DuplicateNumber(
            _("Cardholder number %(number)s already exists.") % {"number": number}
        )
    unit = org_unit_ensure(code=department, by=by, channel=channel) if department else None
    try:
        with transaction.atomic():
            holder = Cardholder.objects.create(
                number=number,
                name=name,
                kind=CardholderKind(kind),
                org_unit=unit,
                valid_until=valid_until,
                phone=phone,
                email=email,
                user=_portal_user(number, password),
            )
    except IntegrityError as exc:  # a concurrent create of the same number
        raise DuplicateNumber() from exc
    for purse_kind in PURSE_ACCOUNT_KIND.values():
        ledger.account_purse(holder, purse_kind)
    audit_record(
        action="cardholder.create",
        actor=by,
        subject=holder,
        channel=channel,
        after=_holder_snapshot(holder),
    )
    return holder


def _holder_snapshot(holder: Cardholder) -> dict[str, Any]:
    return {
        "number": holder.number,
        "name": holder.name,
        "kind": holder.kind,
        "department": holder.org_unit.code if holder.org_unit else None,
        "status": holder.status,
        "valid_until": holder.valid_until.isoformat() if holder.valid_until else None,
        "phone": holder.phone,
        "email": holder.email,
    }


HOLDER_UPDATABLE = ("name", "kind", "department", "status", "valid_until", "phone", "email")


@transaction.atomic
def cardholder_update(
    *, cardholder: Cardholder, by: Any, channel: str = "api", **changes: Any
) -> Cardholder:
    unknown = set(changes) - set(HOLDER_UPDATABLE)
    if unknown:
        raise InvalidRequest(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    holder = Cardholder.objects.select_for_update().get(pk=cardholder.pk)
    before = _holder_snapshot(holder)
    for name, value in changes.items():
        if name == "department":
            holder.org_unit = org_unit_ensure(code=value, by=by, channel=channel) if value else None
        elif name == "kind":
            holder.kind = CardholderKind(value)
        elif name == "status":
            holder.status = CardholderStatus(value)
        else:
            setattr(holder, name, value)
    holder.save()
    after = _holder_snapshot(holder)
    if after != before:
        audit_record(
            action="cardholder.update",
            actor=by,
            subject=holder,
            before=before,
            after=after,
            channel=channel,
        )
    return holder


@transaction.atomic
def cardholder_set_password(
    *, cardholder: Cardholder, password: str, by: Any, channel: str = "api"
) -> None:
    user = cardholder.user or _portal_user(cardholder.number, None)
    user.set_password(password)
    user.save(update_fields=["password"])
    if cardholder.user_id is None:
        Cardholder.objects.filter(pk=cardholder.pk).update(user=user)
    audit_record(action="cardholder.set_password", actor=by, subject=cardholder, channel=channel)


@dataclass
class ImportRowError:
    line: int
    message: str


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[ImportRowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


IMPORT_COLUMNS = ("number", "name", "kind", "department", "valid_until", "phone", "email")


def _import_row_clean(line: int, raw: dict[str, Any], seen: set[str]) -> dict[str, Any]:
    row = {k: ("" if raw.get(k) is None else str(raw.get(k)).strip()) for k in IMPORT_COLUMNS}
    if isinstance(raw.get("valid_until"), dt.datetime | dt.date):
        value = raw["valid_until"]
        row["valid_until"] = (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    problems = []
    if not row["number"] or len(row["number"]) > 32:
        problems.append(_("number is required (at most 32 characters)"))
    elif row["number"] in seen:
        problems.append(_("number %(n)s appears twice in the file") % {"n": row["number"]})
    if not row["name"] or len(row["name"]) > 100:
        problems.append(_("name is required (at most 100 characters)"))
    if row["kind"] not in CardholderKind.values:
        problems.append(_("kind must be one of student, staff, visitor"))
    valid_until = None
    if row["valid_until"]:
        try:
            valid_until = dt.date.fromisoformat(row["valid_until"][:10])
        except ValueError:
            problems.append(_("valid_until must be a date YYYY-MM-DD"))
    if len(row["department"]) > 32:
        problems.append(_("department code is at most 32 characters"))
    if len(row["phone"]) > 32:
        problems.append(_("phone is at most 32 characters"))
    if row["email"]:
        try:
            validate_email(row["email"])
        except ValidationError:
            problems.append(_("email is not a valid address"))
    if any("\x00" in value for value in row.values()):
        problems.append(_("the row contains a NUL character"))
    if problems:
        raise ValueError("; ".join(str(p) for p in problems))
    seen.add(row["number"])
    return {**row, "valid_until": valid_until, "department": row["department"] or None}


def cardholder_import(
    *,
    rows: Iterable[dict[str, Any]],
    by: Any,
    channel: str = "import",
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Create or update cardholders from rows; every row valid or nothing changes."""
    summary = ImportSummary()
    cleaned: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for line, raw in enumerate(rows, start=2):  # line 1 is the header
        try:
            cleaned.append((line, _import_row_clean(line, raw, seen)))
        except ValueError as exc:
            summary.errors.append(ImportRowError(line=line, message=str(exc)))
    if summary.errors:
        raise ImportFailed(errors=[asdict(e) for e in summary.errors])
    with transaction.atomic():
        existing = {h.number: h for h in Cardholder.objects.filter(number__in=seen)}
        for done, (_line, row) in enumerate(cleaned, start=1):
            number = row.pop("number")
            holder = existing.get(number)
            if holder is None:
                cardholder_create(number=number, by=by, channel=channel, **row)
                summary.created += 1
            else:
                before = _holder_snapshot(holder)
                cardholder_update(cardholder=holder, by=by, channel=channel, **row)
                holder.refresh_from_db()
                if _holder_snapshot(holder) == before:
                    summary.unchanged += 1
                else:
                    summary.updated += 1
            if progress:
                progress(done)
        audit_record(
            action="cardholder.import",
            actor=by,
            subject_type="import",
            subject_id=str(len(cleaned)),
            after=summary.as_dict(),
            channel=channel,
        )
    return summary


# --- Merchants ---------------------------------------------------------------------


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


# --- Cards ---------------------------------------------------------------------------


def _next_card_no() -> str:
    year = timezone.localdate().year
    CardNoCounter.objects.get_or_create(year=year)
    counter = CardNoCounter.objects.select_for_update().get(year=year)
    while True:
        counter.last += 1
        card_no = f"{year}{counter.last:04d}"
        if not Card.objects.filter(card_no=card_no).exists():
            break
    counter.save(update_fields=["last"])
    return card_no


def _normalise_uid(uid: str) -> str:
    uid = uid.strip().lower()
    if len(uid) % 2 or not 8 <= len(uid) <= 20 or any(c not in "0123456789abcdef" for c in uid):
        raise InvalidRequest(_("uid is 4 to 10 bytes of hex."), field="uid")
    return uid


def _require_uid_free(uid: str) -> None:
    if Card.objects.filter(uid=uid, status__in=LIVE_STATUSES).exists():
        raise UidInUse(_("UID %(uid)s belongs to a card in use.") % {"uid": uid})


def _create_card(*, holder: Cardholder, uid: str, deposit: int) -> Card:
    try:
        with transaction.atomic():
            return Card.objects.create(
                card_no=_next_card_no(),
                uid=uid,
                cardholder=holder,
                deposit=deposit,
                key_version=current_purse_key_version(),
                status=CardStatus.ACTIVE,
            )
    except IntegrityError as exc:  # lost a race on the partial unique indexes
        if Card.objects.filter(cardholder=holder, status__in=LIVE_STATUSES).exists():
            raise ActiveCardExists() from exc
        raise UidInUse() from exc


@transaction.atomic
def card_issue(
    *,
    cardholder: Cardholder,
    uid: str,
    deposit: int = 0,
    by: Any,
    deposit_method: str = TopUpMethod.CASH,
    channel: str = "api",
) -> Card:
    if isinstance(deposit, bool) or not isinstance(deposit, int) or deposit < 0:
        raise InvalidAmount(_("The deposit is zero or more fen."))
    uid = _normalise_uid(uid)
    holder = Cardholder.objects.select_for_update().get(pk=cardholder.pk)
    if holder.status != CardholderStatus.ACTIVE:
        raise InvalidStatus(_("Cardholder %(n)s is not active.") % {"n": holder.number})
    if holder.cards.filter(status__in=LIVE_STATUSES).exists():
        raise ActiveCardExists(
            _("Cardholder %(n)s already has a card in use; replace it instead.")
            % {"n": holder.number}
        )
    _require_uid_free(uid)
    card = _create_card(holder=holder, uid=uid, deposit=deposit)
    carried = _carry_from_expired(holder, card, by)
    if deposit:
        ledger.posting_create(
            key=f"card.issue:{card.card_no}",
            kind="deposit",
            card=card,
            by=by,
            legs=[
                (_money_source_code(deposit_method, by), -deposit),
                (ledger.account_singleton(AccountKind.DEPOSITS_HELD), deposit),
            ],
            memo=f"Deposit for card {card.card_no}",
        )
    audit_record(
        action="card.issue",
        actor=by,
        subject=card,
        channel=channel,
        after={
            **_card_snapshot(card),
            "uid": uid,
            "cardholder": holder.number,
            "key_version": card.key_version,
            "carried_loads": [load.load_id for load in carried],
        },
    )
    return card


def _carry_from_expired(holder: Cardholder, new: Card, by: Any) -> list[PendingLoad]:
    """An expired card's unclaimed loads and card balances follow the holder to the next
    card, as a replacement's do: the money never expired, only the plastic."""
    moved: list[PendingLoad] = []
    expired = (
        Card.objects.select_for_update()
        .filter(cardholder=holder, status=CardStatus.EXPIRED, replaced_by__isnull=True)
        .order_by("id")
    )
    for old in expired:
        moved += _move_to_new_card(old, new, by)
        old.replaced_by = new
        old.save(update_fields=["replaced_by", "card_main", "card_subsidy", "updated_at"])
    return moved


def _purse_account(holder: Cardholder, purse: str) -> Any:
    return ledger.account_purse(holder, PURSE_ACCOUNT_KIND[Purse(purse)])


def _purse_code(holder: Cardholder, purse: str) -> str:
    return ledger.code_purse(holder.number, PURSE_ACCOUNT_KIND[Purse(purse)])


def _money_source_code(method: str, by: Any) -> str:
    """The account money comes from (or, for refunds, goes back to) for a method."""
    if method == TopUpMethod.CASH:
        return ledger.code_cash_drawer(by)
    if method == TopUpMethod.BANK:
        return ledger.SINGLETON_ACCOUNTS[AccountKind.BANK_CLEARING]
    if method == TopUpMethod.ONLINE:
        return ledger.SINGLETON_ACCOUNTS[AccountKind.ONLINE_CLEARING]
    raise InvalidRequest(_("method must be cash, bank or online."), field="method")


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
    source = _money_source_code(method, by)
    card = card_locked(card)
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
        kind="top_up",
        card=card,
        by=by,
        legs=[(source, -amount), (_purse_code(card.cardholder, purse), amount)],
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


def _blacklist_sync(card: Card, reason: str) -> None:
    """Record a change of the card's listed state as the next gapless version."""
    listed = card.status in BLACKLISTED_STATUSES or card.suspected_clone
    if listed == card.blacklisted:
        return
    card.blacklisted = listed
    counter, _created = BlacklistCounter.objects.get_or_create(id=1)
    counter = BlacklistCounter.objects.select_for_update().get(id=1)
    counter.version += 1
    counter.save(update_fields=["version"])
    BlacklistVersion.objects.create(
        version=counter.version,
        card=card,
        card_no=card.card_no,
        reason=reason,
        action=BlacklistAction.ADD if listed else BlacklistAction.REMOVE,
    )


def _card_change_status(
    *,
    card: Card,
    to: str,
    by: Any,
    action: str,
    channel: str,
    reason: str = "",
    extra: dict[str, Any] | None = None,
) -> Card:
    card = card_locked(card)
    card.require_transition(to, action)
    before = _card_snapshot(card)
    card.status = to
    if to not in LIVE_STATUSES:
        card.closed_at = _now()
    _blacklist_sync(card, reason=action)
    card.save()
    audit_record(
        action=f"card.{action}",
        actor=by,
        subject=card,
        channel=channel,
        before=before,
        after={**_card_snapshot(card), "reason": reason, **(extra or {})},
    )
    return card


@transaction.atomic
def card_report_loss(*, card: Card, by: Any, channel: str = "api") -> Card:
    return _card_change_status(
        card=card, to=CardStatus.LOST, by=by, action="report_loss", channel=channel
    )


@transaction.atomic
def card_unlock(*, card: Card, by: Any, channel: str = "api") -> Card:
    return _card_change_status(
        card=card, to=CardStatus.ACTIVE, by=by, action="unlock", channel=channel
    )


@transaction.atomic
def card_freeze(*, card: Card, by: Any, reason: str = "", channel: str = "api") -> Card:
    return _card_change_status(
        card=card, to=CardStatus.FROZEN, by=by, action="freeze", reason=reason, channel=channel
    )


@transaction.atomic
def card_unfreeze(*, card: Card, by: Any, reason: str = "", channel: str = "api") -> Card:
    return _card_change_status(
        card=card, to=CardStatus.ACTIVE, by=by, action="unfreeze", reason=reason, channel=channel
    )


def _move_to_new_card(old: Card, new: Card, by: Any) -> list[PendingLoad]:
    """The old card's card balances and unclaimed loads become pending loads of the new one."""
    moved: list[PendingLoad] = []
    for load in (
        PendingLoad.objects.select_for_update()
        .filter(card=old, status=LoadStatus.PENDING)
        .order_by("id")
    ):
        successor = PendingLoad.objects.create(
            card=new,
            purse=load.purse,
            amount=load.amount,
            source=load.source,
            method=load.method,
            reference=load.reference,
            posting=load.posting,
            subsidy_batch=load.subsidy_batch,
            created_by=load.created_by,
        )
        load.status = LoadStatus.TRANSFERRED
        load.transferred_to = successor
        load.closed_at = _now()
        load.save(update_fields=["status", "transferred_to", "closed_at"])
        moved.append(successor)
    for purse in Purse:
        on_card = old.card_balance(purse)
        if on_card > 0:
            moved.append(
                PendingLoad.objects.create(
                    card=new,
                    purse=purse,
                    amount=on_card,
                    source=LoadSource.REPLACEMENT,
                    reference=f"replaces {old.card_no}",
                    created_by=by if getattr(by, "pk", None) else None,
                )
            )
            setattr(old, f"card_{purse}", 0)
    return moved


@transaction.atomic
def card_replace(*, card: Card, uid: str, by: Any, channel: str = "api") -> Card:
    uid = _normalise_uid(uid)
    old = card_locked(card)
    old.require_transition(CardStatus.REPLACED, "replace")
    before = _card_snapshot(old)
    if uid != old.uid:
        _require_uid_free(uid)
    # The old card leaves the live set first, so the holder's one-live-card rule and
    # the UID rule hold when the new card is inserted.
    old.status = CardStatus.REPLACED
    old.closed_at = _now()
    _blacklist_sync(old, reason="replace")
    deposit, old.deposit = old.deposit, 0
    old.save()
    new = _create_card(holder=old.cardholder, uid=uid, deposit=deposit)
    moved = _move_to_new_card(old, new, by)
    old.replaced_by = new
    old.save()
    audit_record(
        action="card.replace",
        actor=by,
        subject=old,
        channel=channel,
        before=before,
        after={
            **_card_snapshot(old),
            "new_card_no": new.card_no,
            "uid": uid,
            "deposit_carried": deposit,
            "loads": [{"load_id": m.load_id, "purse": m.purse, "amount": m.amount} for m in moved],
        },
    )
    return new


@dataclass
class CancelRefund:
    card_no: str
    refund_method: str
    main: int
    subsidy: int
    subsidy_recovered: int
    deposit: int
    fee: int
    total: int
    voided_loads: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _refund_target(method: str, by: Any) -> Any:
    if method == TopUpMethod.CASH:
        return ledger.account_cash_drawer(by)
    if method == TopUpMethod.BANK:
        return ledger.account_singleton(AccountKind.REFUNDS)
    raise InvalidRequest(_("refund_method must be cash or bank."), field="refund_method")


@transaction.atomic
def card_cancel(*, card: Card, refund_method: str, by: Any, channel: str = "api") -> CancelRefund:
    """Close the card for good: refund the holder's purses and the deposit, less the fee."""
    card = card_locked(card)
    card.require_transition(CardStatus.CANCELLED, "cancel")
    if (
        card.status == CardStatus.EXPIRED
        and Card.objects.filter(cardholder=card.cardholder, status__in=LIVE_STATUSES).exists()
    ):
        raise InvalidStatus(
            _("The holder's money follows their card in use; cancel that card instead."),
            status=card.status,
        )
    target = _refund_target(refund_method, by)
    before = _card_snapshot(card)
    holder = card.cardholder
    voided = list(
        PendingLoad.objects.select_for_update()
        .filter(card=card, status=LoadStatus.PENDING)
        .order_by("id")
    )
    main_acc = _purse_account(holder, Purse.MAIN)
    subsidy_acc = _purse_account(holder, Purse.SUBSIDY)
    main, subsidy = main_acc.balance, subsidy_acc.balance
    refund_subsidy = subsidy if settings.ONECARD_REFUND_SUBSIDY else 0
    refundable = main + refund_subsidy + card.deposit
    fee = min(settings.ONECARD_CANCELLATION_FEE, refundable)
    total = refundable - fee
    legs: list[ledger.Leg] = [(main_acc, -main), (subsidy_acc, -subsidy), (target, total)]
    legs.append((ledger.account_singleton(AccountKind.DEPOSITS_HELD), -card.deposit))
    legs.append((ledger.account_singleton(AccountKind.FEE_INCOME), fee))
    legs.append((ledger.account_singleton(AccountKind.SUBSIDY_FUND), subsidy - refund_subsidy))
    if any(amount for _acc, amount in legs):
        ledger.posting_create(
            key=f"card.cancel:{card.card_no}",
            kind="cancel",
            card=card,
            by=by,
            legs=legs,
            memo=f"Cancellation of card {card.card_no}",
        )
    for load in voided:
        load.status = LoadStatus.VOIDED
        load.closed_at = _now()
    PendingLoad.objects.bulk_update(voided, ["status", "closed_at"])
    refund = CancelRefund(
        card_no=card.card_no,
        refund_method=refund_method,
        main=main,
        subsidy=refund_subsidy,
        subsidy_recovered=subsidy - refund_subsidy,
        deposit=card.deposit,
        fee=fee,
        total=total,
        voided_loads=[v.load_id for v in voided],
    )
    card.status = CardStatus.CANCELLED
    card.closed_at = _now()
    card.deposit = 0
    _blacklist_sync(card, reason="cancel")
    card.save()
    audit_record(
        action="card.cancel",
        actor=by,
        subject=card,
        channel=channel,
        before=before,
        after={**_card_snapshot(card), "refund": refund.as_dict()},
    )
    return refund


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
    code = _purse_code(card.cardholder, purse)
    posting = ledger.posting_create(
        key=f"adjust:{key}", kind="adjustment", card=card, by=by, memo=reason[:255],
        legs=[(SUSPENSE, -amount), (code, amount)],
    )
    load = None
    if amount > 0 and card.is_live:
        load = PendingLoad.objects.create(
            card=card, purse=purse, amount=amount, source=LoadSource.CORRECTION,
            reference=reason[:128], posting=posting,
            created_by=by if getattr(by, "pk", None) else None,
        )
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
        key=f"refund:{key}", kind="refund", card=card, by=by, memo=reason[:255],
        legs=[(f"merchant_payable:{merchant_code}", -amount),
              (_purse_code(card.cardholder, purse), amount)],
    )
    load = None
    if card.is_live:
        load = PendingLoad.objects.create(
            card=card, purse=purse, amount=amount, source=LoadSource.CORRECTION,
            reference=reason[:128], posting=posting,
            created_by=by if getattr(by, "pk", None) else None,
        )
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
        key=f"cash_count:{key}", kind="cash_count", by=by,
        memo=f"Drawer count of {clerk.get_username()}",
        legs=[(ledger.code_cash_drawer(clerk), -difference), (SUSPENSE, difference)],
    )
    audit_record(action="cash.count_difference", actor=by, subject=clerk,
                 subject_type="user", subject_id=str(clerk.pk),
                 after={"difference": difference, "posting": posting.pk}, channel=channel)
    return int(posting.pk)


@transaction.atomic
def card_suspect_clone(*, card: Card, by: Any, detail: str = "", channel: str = "job") -> Card:
    """Two different records carry this card's counter value: a clone is suspected, and
    the card goes on the blacklist whatever its status (§7 card_seq_conflict)."""
    card = card_locked(card)
    if card.suspected_clone:
        return card
    before = _card_snapshot(card)
    card.suspected_clone = True
    _blacklist_sync(card, reason="suspected_clone")
    card.save()
    audit_record(action="card.suspect_clone", actor=by, subject=card, channel=channel,
                 before=before, after={**_card_snapshot(card), "detail": detail})
    return card


@transaction.atomic
def card_expire(*, card: Card, by: Any, channel: str = "job") -> Card:
    return _card_change_status(
        card=card, to=CardStatus.EXPIRED, by=by, action="expire", channel=channel
    )


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
        for c in Card.objects.select_for_update()
        .filter(cardholder__in=holders.values(), status__in=LOADABLE_STATUSES)
        .order_by("id")
    }
    without = sorted(h.number for h in holders.values() if h.pk not in cards)
    if without:
        raise CardholdersWithoutCard(cardholders=without)
    total = sum(a for _n, a in pairs)
    fund = ledger.account_singleton(AccountKind.SUBSIDY_FUND)
    legs: list[ledger.Leg] = [(fund, -total)]
    legs += [(_purse_account(holders[n], purse), a) for n, a in pairs]
    try:
        with transaction.atomic():
            posting = ledger.posting_create(
                key=f"subsidy:{key}", kind="subsidy", by=by, legs=legs, memo=name[:255]
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


# --- Terminal records: money that already moved on a card ---------------------------


@dataclass
class CardMovement:
    """An accepted purse record, as the terminals app hands it over."""

    key: str  # the posting's idempotency key, e.g. "record:POS-0001:42"
    card_id: int
    type: str  # "purchase" or "load"
    purse: str
    amount: int
    card_seq: int
    load_id: str = ""  # a pending load written to the card
    # purchases: the merchant payable; cash loads: the terminal's cash box
    counter_account: str = ""


@dataclass
class MovementOutcome:
    ok: bool
    reason: str = ""
    detail: str = ""
    posting_id: int | None = None
    flags: list[str] = field(default_factory=list)


def _load_refusal(
    load: PendingLoad | None, m: CardMovement, seen: set[str]
) -> MovementOutcome | None:
    if load is None or load.card_id != m.card_id:
        return MovementOutcome(False, "unknown_load", f"no pending load {m.load_id} for this card")
    if load.status == LoadStatus.COMPLETED or m.load_id in seen:
        return MovementOutcome(False, "load_already_completed")
    if load.status != LoadStatus.PENDING:
        return MovementOutcome(False, "unknown_load", f"load {m.load_id} is {load.status}")
    if (load.purse, load.amount) != (m.purse, m.amount):
        return MovementOutcome(
            False, "invalid",
            f"load {m.load_id} is {load.amount} fen to {load.purse}, "
            f"the record says {m.amount} to {m.purse}",
        )
    return None


def card_movements_apply(*, movements: Sequence[CardMovement]) -> list[MovementOutcome]:
    """Apply accepted purse records to cards, pending loads and the ledger, in order.

    The money already moved on the card, so nothing here refuses a purchase: a purse
    that the ledger says cannot cover it (records out of order, a cash load not yet
    uploaded) is debited to zero and the rest goes to suspense, flagged for
    reconciliation; likewise a cash load above the purse maximum. A cash load that
    arrives later first makes good what the purse was short of (back from suspense),
    so the purse ends equal to the card again. Locks: cards by id,
    loads, holder purses, then the counter accounts (the global order). The caller
    holds the transaction."""
    if not movements:
        return []
    cards = {c.pk: c for c in Card.objects.select_for_update(of=("self",))
             .select_related("cardholder").filter(pk__in={m.card_id for m in movements})
             .order_by("pk")}
    load_ids = {m.load_id for m in movements if m.load_id}
    loads = {ld.load_id: ld for ld in PendingLoad.objects.select_for_update()
             .filter(load_id__in=load_ids).order_by("pk")} if load_ids else {}

    def purse_code(m: CardMovement) -> str:
        return _purse_code(cards[m.card_id].cardholder, m.purse)

    moving = [m for m in movements if not m.load_id]
    purses = ledger.accounts_lock({purse_code(m) for m in moving})
    running = {code: acc.balance for code, acc in purses.items() if isinstance(code, str)}
    short = _purses_short(cards, running, moving)
    outcomes: list[MovementOutcome] = []
    specs: list[ledger.PostingSpec] = []
    spec_outcome: list[MovementOutcome] = []
    seen_loads: set[str] = set()
    touched_loads: list[PendingLoad] = []
    for m in movements:
        card = cards[m.card_id]
        if m.load_id:
            refusal = _load_refusal(loads.get(m.load_id), m, seen_loads)
            if refusal:
                outcomes.append(refusal)
                continue
            load = loads[m.load_id]
            load.status, load.closed_at = LoadStatus.COMPLETED, _now()
            seen_loads.add(m.load_id)
            touched_loads.append(load)
            outcome = MovementOutcome(True)
        else:
            code, key = purse_code(m), (m.card_id, m.purse)
            legs, flags = _movement_legs(m, code, running[code], purses[code].max_balance,
                                         short.get(key, 0))
            delta = sum(amount for acc, amount in legs if acc == code)
            running[code] += delta
            if key in short:  # what the purse moved beyond the card's own change
                short[key] += delta - (m.amount if m.type == "load" else -m.amount)
            specs.append(ledger.PostingSpec(key=m.key, kind=f"record_{m.type}", legs=legs,
                                            card_id=card.pk, memo=m.key))
            outcome = MovementOutcome(True, flags=flags)
            spec_outcome.append(outcome)
        sign = -1 if m.type == "purchase" else 1
        setattr(card, f"card_{m.purse}", card.card_balance(m.purse) + sign * m.amount)
        card.card_seq = max(card.card_seq, m.card_seq)
        if card.blacklisted:
            outcome.flags.append("blacklisted_card")
        outcomes.append(outcome)
    if specs:
        counters = {str(acc) for spec in specs for acc, _amount in spec.legs if acc not in purses}
        locked = {**purses, **ledger.accounts_lock(counters)}
        for outcome, posting_id in zip(spec_outcome, ledger.postings_write(specs, locked),
                                       strict=True):
            outcome.posting_id = posting_id
    _cards_save_balances(list(cards.values()))
    if touched_loads:
        _loads_save_completed(touched_loads)
    return outcomes


def _cards_save_balances(cards: list[Card]) -> None:
    """One UPDATE for all cards of a batch (Django's bulk_update builds a CASE per row
    and per field, which costs more in Python than the whole batch does in SQL)."""
    if connection.vendor != "postgresql":
        Card.objects.bulk_update(cards, ["card_main", "card_subsidy", "card_seq"])
        return
    with bulk_cursor() as cur:
        cur.execute(
            "UPDATE accounts_card c SET card_main = v.m, card_subsidy = v.s, card_seq = v.q, "
            "updated_at = %s FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], "
            "%b::bigint[]) AS v(id, m, s, q) WHERE c.id = v.id",
            [_now(), [c.pk for c in cards], [c.card_main for c in cards],
             [c.card_subsidy for c in cards], [c.card_seq for c in cards]],
        )


def _loads_save_completed(loads: list[PendingLoad]) -> None:
    ids = [ld.pk for ld in loads]
    PendingLoad.objects.filter(pk__in=ids).update(
        status=LoadStatus.COMPLETED, closed_at=loads[0].closed_at
    )


SUSPENSE = ledger.SINGLETON_ACCOUNTS[AccountKind.SUSPENSE]


def _purses_short(cards: dict[int, Card], running: dict[Any, int],
                  moving: Sequence[CardMovement]) -> dict[tuple[int, str], int]:
    """Per live card and purse taking a cash load: how much the holder's purse holds
    above the card plus its pending loads, i.e. what earlier purchases went short of
    (to suspense) because the cash load that paid for them had not arrived yet."""
    keys = {(m.card_id, m.purse) for m in moving
            if m.type == "load" and cards[m.card_id].is_live}
    if not keys:
        return {}
    pending = {(c, p): int(t) for c, p, t in PendingLoad.objects.filter(
        card_id__in={c for c, _p in keys}, status=LoadStatus.PENDING)
        .values("card_id", "purse").annotate(t=Sum("amount"))
        .values_list("card_id", "purse", "t")}
    return {(c, p): running[_purse_code(cards[c].cardholder, p)] - cards[c].card_balance(p)
            - pending.get((c, p), 0) for c, p in keys}


def _movement_legs(m: CardMovement, purse: str, balance: int, max_balance: int | None,
                   short: int = 0) -> tuple[list[ledger.Leg], list[str]]:
    if m.type == "purchase":
        covered = min(m.amount, max(balance, 0))
        legs: list[ledger.Leg] = [(purse, -covered), (m.counter_account, m.amount)]
        if covered < m.amount:
            return [*legs, (SUSPENSE, covered - m.amount)], ["purse_shortfall"]
        return legs, []
    limit = min(max_balance or settings.ONECARD_MAX_BALANCE, settings.ONECARD_MAX_BALANCE)
    room = max(limit - balance, 0)
    made_good = min(m.amount, max(short, 0))
    credited = min(m.amount - made_good, room)
    legs = [(m.counter_account, -m.amount), (purse, credited)]
    flags = ["shortfall_made_good"] if made_good else []
    if credited < m.amount - made_good:
        flags.append("purse_overflow")
    if credited < m.amount:
        return [*legs, (SUSPENSE, m.amount - credited)], flags
    return legs, flags
