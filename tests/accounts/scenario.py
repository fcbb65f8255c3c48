"""Scenario helpers shared by the accounts service tests: balances by account code,
audit marks, a request context, and a stand-in for the terminal writing loads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from accounts import services
from accounts.models import (
    AuditEvent,
    BlacklistVersion,
    Card,
    Cardholder,
    CardStatus,
    LedgerAccount,
    LoadStatus,
    PendingLoad,
    Posting,
)
from accounts.selectors import blacklist_version
from core.middleware import RequestIdMiddleware
from tests.factories import new_uid

T = TypeVar("T")
MAX = 1_000_000  # ONECARD_MAX_BALANCE in tests (conftest)


def in_request(request_id: str, action: Callable[[], T]) -> T:
    """Run `action` as a view would, behind the request-id middleware."""
    result: list[T] = []

    def view(request: HttpRequest) -> HttpResponse:
        result.append(action())
        return HttpResponse()

    RequestIdMiddleware(view)(RequestFactory().post("/", HTTP_X_REQUEST_ID=request_id))
    return result[0]


def balance(code: str) -> int:
    account = LedgerAccount.objects.filter(code=code).first()
    return account.balance if account else 0


def drawer(user: Any) -> str:
    return f"cash_drawer:{user.pk}"


def purse(holder: Cardholder, name: str = "main") -> str:
    return f"purse_{name}:{holder.number}"


def fresh(card: Card) -> Card:
    return Card.objects.select_related("cardholder").get(pk=card.pk)


def audit_mark() -> int:
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    return last or 0


def audit_since(mark: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=mark).order_by("id"))


def world() -> dict[str, Any]:
    """Everything a failed service must leave exactly as it was."""
    return {
        "accounts": dict(LedgerAccount.objects.values_list("code", "balance")),
        "cards": list(Card.objects.order_by("id").values()),
        "loads": list(PendingLoad.objects.order_by("id").values()),
        "postings": Posting.objects.count(),
        "audit": AuditEvent.objects.count(),
        "blacklist": list(BlacklistVersion.objects.order_by("version")
                          .values_list("version", "card_no", "action")),
        "blacklist_version": blacklist_version(),
        "holders": Cardholder.objects.count(),
    }


def terminal_writes_pending_loads(card: Card) -> Card:
    """Stand-in for the terminal ingest (built in the next issue): an accepted load
    record writes each pending load to the card, so the load completes and the card
    balance grows by it. Card and loads change together, under the card's lock, as the
    ingest will do; the holder's account already holds the money."""
    with transaction.atomic():
        card = Card.objects.select_for_update().get(pk=card.pk)
        loads = PendingLoad.objects.select_for_update().filter(
            card=card, status=LoadStatus.PENDING).order_by("id")
        for load in loads:
            load.status = LoadStatus.COMPLETED
            load.closed_at = timezone.now()
            load.save(update_fields=["status", "closed_at"])
            card.card_seq += 1
            setattr(card, f"card_{load.purse}", card.card_balance(load.purse) + load.amount)
        card.save(update_fields=["card_seq", "card_main", "card_subsidy", "updated_at"])
    return fresh(card)


def put_in_status(card: Card, status: str, by: Any) -> Card:
    """Take an active card to `status` the way the counter would."""
    if status == CardStatus.LOST:
        services.card_report_loss(card=card, by=by)
    elif status == CardStatus.FROZEN:
        services.card_freeze(card=card, by=by, reason="holder asked")
    elif status == CardStatus.REPLACED:
        services.card_replace(card=card, uid=new_uid(), by=by)
    elif status == CardStatus.CANCELLED:
        services.card_cancel(card=card, refund_method="cash", by=by)
    elif status == CardStatus.EXPIRED:
        services.card_expire(card=card, by=by)
    card = fresh(card)
    assert card.status == status
    return card


def perform(action: str, card: Card, by: Any) -> Any:
    """The clerk's action named as in CARD_TRANSITIONS."""
    if action == "report_loss":
        return services.card_report_loss(card=card, by=by)
    if action == "unlock":
        return services.card_unlock(card=card, by=by)
    if action == "freeze":
        return services.card_freeze(card=card, by=by, reason="check")
    if action == "unfreeze":
        return services.card_unfreeze(card=card, by=by, reason="check")
    if action == "replace":
        return services.card_replace(card=card, uid=new_uid(), by=by)
    if action == "cancel":
        return services.card_cancel(card=card, refund_method="cash", by=by)
    if action == "expire":
        return services.card_expire(card=card, by=by)
    raise AssertionError(action)


# --- Registering and issuing ------------------------------------------------------------
