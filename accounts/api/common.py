"""What every view of the operations API shares: base classes (who may call, which
bodies are parsed), pagination, and the documented error answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.api.authentication import CardholderBasicAuthentication, IsCardholder
from accounts.models import Card, Cardholder
from accounts.selectors import cardholder_for_user
from core.api.views import JSONBodyParser
from core.pagination import Pagination


class PortalAPIView(APIView):
    """The cardholder portal under /api/v1/me: a holder's token, or HTTP Basic with the
    holder's number and password. `self.holder` is the caller."""

    authentication_classes = [TokenAuthentication, CardholderBasicAuthentication]
    permission_classes = [IsCardholder]
    parser_classes = [JSONBodyParser]
    holder: Cardholder

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        holder = cardholder_for_user(request.user)
        assert holder is not None  # IsCardholder has let the request in
        self.holder = holder


class CardHistoryPagination(Pagination):
    """A card's history: ledger postings in the page envelope, plus `records`, the card's
    accepted terminal records in the same period (see `card_records`)."""

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        envelope = super().get_paginated_response_schema(schema)
        envelope["properties"]["records"] = {
            "type": "array", "items": {"type": "object", "additionalProperties": {}},
            "description": "accepted terminal records of the card in the same period, "
                           "newest first (empty until the terminal ingest stores them)",
        }
        return envelope


def card_records(card: Card, *, since: dt.datetime | None,
                 until: dt.datetime | None) -> list[dict[str, Any]]:
    """Hook for the card's accepted terminal records (a later issue stores them; the
    terminals app will supply a selector to call here). No source yet: empty."""
    return []


# Path parameters. Explicit patterns type them in the schema and keep odd values out.
CARD_NO = r"(?P<card_no>[0-9]{8,19})"
NUMBER = r"(?P<number>[^/\x00-\x1f]{1,32})"
