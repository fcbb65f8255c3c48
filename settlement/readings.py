"""Card readings: what the issuing station read off a card at the desk, held against
the accepted records. A card whose counter or purses differ from the records carries
transactions the server has not seen (an offline till not yet uploaded, or a clone):
finance gets a `card_reading_mismatch` exception to investigate at once, not only when
the missing records arrive."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.errors import InvalidStatus
from accounts.models import Card
from accounts.selectors import card_locked
from core.errors import InvalidRequest
from settlement.models import CardReading, ExceptionCode, ReconException


@transaction.atomic
def card_reading_record(*, card: Card, purpose: str, card_seq: int, main: int, subsidy: int,
                        key_version: int, by: Any, channel: str = "api") -> CardReading:
    """Store the reading beside the records' figures, under the card's lock so that no
    batch of records lands between the two; a difference opens an exception."""
    card = card_locked(card)
    if not card.is_live:
        raise InvalidStatus(
            _("Card %(card)s is %(status)s: its records no longer say what is on it.")
            % {"card": card.card_no, "status": card.status}, status=card.status)
    if key_version != card.key_version:
        raise InvalidRequest(
            _("The card carries key version %(card)s, the records %(server)s: not this card.")
            % {"card": key_version, "server": card.key_version}, field="key_version")
    reading = CardReading.objects.create(
        card_no=card.card_no, purpose=purpose, card_seq=card_seq, main=main, subsidy=subsidy,
        key_version=key_version, recorded_card_seq=card.card_seq,
        recorded_main=card.card_main, recorded_subsidy=card.card_subsidy, read_by=by,
    )
    differences = reading.differences
    if differences:
        on_card, recorded = reading.on_card, reading.recorded
        figures = ":".join(str(v) for v in (*on_card.values(), *recorded.values()))
        reading.exception, _created = ReconException.objects.get_or_create(
            key=f"{ExceptionCode.CARD_READING_MISMATCH}:{card.card_no}:{figures}",
            defaults={"code": ExceptionCode.CARD_READING_MISMATCH,
                      "business_date": timezone.localdate(), "card_no": card.card_no,
                      "detail": {"purpose": purpose, "differences": differences,
                                 "on_card": on_card, "recorded": recorded}},
        )
        reading.save(update_fields=["exception"])
    audit_record(action="card.reading", actor=by, subject=card, channel=channel,
                 after={"purpose": purpose, "card_seq": card_seq, "main": main,
                        "subsidy": subsidy, "differences": differences,
                        "exception": reading.exception_id})
    return reading
