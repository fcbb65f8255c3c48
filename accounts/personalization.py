"""What the issuing station writes to a card: its diversified key. Reading it is a
privileged act, so every read leaves an audit event."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction

from accounts.audit import audit_record
from accounts.keys import card_key
from accounts.models import Card


@dataclass(frozen=True)
class CardPersonalization:
    card_no: str
    uid: str
    key_version: int
    card_key: str  # hex

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@transaction.atomic
def card_personalization_get(*, card: Card, by: Any, channel: str = "api") -> CardPersonalization:
    """Derive the card key (KeysUnavailable without a KEK, KeyVersionUnknown without the
    master key) and record who read it; the key itself never enters the audit trail."""
    key = card_key(card)
    audit_record(action="card.personalization_read", actor=by, subject=card, channel=channel,
                 after={"uid": card.uid, "key_version": card.key_version})
    return CardPersonalization(card_no=card.card_no, uid=card.uid, key_version=card.key_version,
                               card_key=key.hex())
