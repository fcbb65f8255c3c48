"""A card's life: issue (with its deposit), report loss, unlock, freeze, unfreeze,
replace, cancel (with the refund), expire and suspected clones; and the blacklist, which
follows the card's status."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import ledger
from accounts.audit import audit_record
from accounts.errors import ActiveCardExists, InvalidAmount, InvalidStatus, UidInUse
from accounts.keys import current_purse_key_version
from accounts.models import (
    BLACKLISTED_STATUSES,
    LIVE_STATUSES,
    AccountKind,
    BlacklistAction,
    BlacklistCounter,
    BlacklistVersion,
    Card,
    Cardholder,
    CardholderStatus,
    CardNoCounter,
    CardStatus,
    LoadSource,
    LoadStatus,
    PendingLoad,
    PostingKind,
    Purse,
    TopUpMethod,
)
from accounts.selectors import card_locked
from accounts.services._shared import money_source
from accounts.signals import card_status_changed
from core.errors import InvalidRequest


def _status_changed(card: Card, action: str) -> None:
    """Tell the apps above (access lists) inside this transaction, so what they write
    commits with the change."""
    card_status_changed.send(sender=Card, card=card, action=action)


def _card_snapshot(card: Card) -> dict[str, Any]:
    return {
        "status": card.status,
        "blacklisted": card.blacklisted,
        "deposit": card.deposit,
        "card_main": card.card_main,
        "card_subsidy": card.card_subsidy,
    }


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
    holder = Cardholder.objects.select_for_update(no_key=True).get(pk=cardholder.pk)
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
            kind=PostingKind.DEPOSIT,
            card=card,
            by=by,
            legs=[
                (money_source(deposit_method, by), -deposit),
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
    _status_changed(card, "issue")
    return card


def _carry_from_expired(holder: Cardholder, new: Card, by: Any) -> list[PendingLoad]:
    """An expired card's unclaimed loads and card balances follow the holder to the next
    card, as a replacement's do: the money never expired, only the plastic."""
    moved: list[PendingLoad] = []
    expired = (
        Card.objects.select_for_update(no_key=True)
        .filter(cardholder=holder, status=CardStatus.EXPIRED, replaced_by__isnull=True)
        .order_by("id")
    )
    for old in expired:
        moved += _move_to_new_card(old, new, by)
        old.replaced_by = new
        old.save(update_fields=["replaced_by", "card_main", "card_subsidy", "updated_at"])
    return moved


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
        card.closed_at = timezone.now()
    _blacklist_sync(card, reason=action)
    card.save()
    _status_changed(card, action)
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
        PendingLoad.objects.select_for_update(no_key=True)
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
        load.closed_at = timezone.now()
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
    old.closed_at = timezone.now()
    _blacklist_sync(old, reason="replace")
    deposit, old.deposit = old.deposit, 0
    old.save()
    new = _create_card(holder=old.cardholder, uid=uid, deposit=deposit)
    moved = _move_to_new_card(old, new, by)
    old.replaced_by = new
    old.save()
    _status_changed(old, "replace")
    _status_changed(new, "issue")
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
        PendingLoad.objects.select_for_update(no_key=True)
        .filter(card=card, status=LoadStatus.PENDING)
        .order_by("id")
    )
    main_acc = ledger.account_purse(holder, Purse.MAIN)
    subsidy_acc = ledger.account_purse(holder, Purse.SUBSIDY)
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
            kind=PostingKind.CANCEL,
            card=card,
            by=by,
            legs=legs,
            memo=f"Cancellation of card {card.card_no}",
        )
    for load in voided:
        load.status = LoadStatus.VOIDED
        load.closed_at = timezone.now()
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
    card.closed_at = timezone.now()
    card.deposit = 0
    _blacklist_sync(card, reason="cancel")
    card.save()
    _status_changed(card, "cancel")
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
    _status_changed(card, "suspect_clone")
    audit_record(action="card.suspect_clone", actor=by, subject=card, channel=channel,
                 before=before, after={**_card_snapshot(card), "detail": detail})
    return card


@transaction.atomic
def card_expire(*, card: Card, by: Any, channel: str = "job") -> Card:
    return _card_change_status(
        card=card, to=CardStatus.EXPIRED, by=by, action="expire", channel=channel
    )
