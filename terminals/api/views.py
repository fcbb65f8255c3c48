"""The terminal protocol's endpoints (terminal-protocol.md §5), thin over the services.

Requests are signed (terminals.auth); the records upload reads the raw body itself
(the signature covers those bytes) and skips DRF parsing on the hot path."""

from __future__ import annotations

from typing import Any, cast

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import blacklist_delta, blacklist_version, card_get, card_pending_loads
from core.errors import InvalidRequest
from terminals import ingest
from terminals.auth import TerminalSignatureAuthentication
from terminals.errors import NotAllowedForKind
from terminals.hooks import access_list_version
from terminals.models import Terminal
from terminals.selectors import terminal_config, terminal_may_load
from terminals.services import terminal_heartbeat, terminal_touch


class TerminalView(APIView):
    authentication_classes = [TerminalSignatureAuthentication]
    permission_classes = [IsAuthenticated]

    def terminal(self, request: Request) -> Terminal:
        return cast(Terminal, request.auth)


class RecordsView(TerminalView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT},
                   summary="Upload a batch of records (1 to 1000, at most 1 MiB)")
    def post(self, request: Request) -> Response:
        terminal = self.terminal(request)
        records = ingest.parse_batch(request._request.body)
        answer = ingest.records_ingest(terminal=terminal, records=records)
        return Response(answer.as_dict())


def _refused(name: str, message: Any) -> InvalidRequest:
    """A query value refused: 400 `invalid_request` naming the parameter (`field`, and
    `fields` as every query error of the API has it)."""
    return InvalidRequest.of({name: [str(message)]}, message=message)


SINCE_DIGITS = 15


def since_of(request: Request) -> int:
    raw = request.query_params.get("since", "0")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > SINCE_DIGITS:  # "²".isdigit() too
        raise _refused("since", _("since must be a whole number."))
    return int(raw)


SINCE = OpenApiParameter(
    "since", {"type": "integer", "minimum": 0, "maximum": 10**SINCE_DIGITS - 1},
    description="the version the terminal has applied (0 when absent)")
CARD_NO = OpenApiParameter("card_no", {"type": "string", "pattern": "^[0-9]{8,19}$"},
                           required=True, description="the card's number")


class BlacklistView(TerminalView):
    @extend_schema(parameters=[SINCE], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        terminal_touch(self.terminal(request))
        return Response(blacklist_delta(since_of(request)).as_dict())


class PendingLoadsView(TerminalView):
    @extend_schema(parameters=[CARD_NO], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        terminal = self.terminal(request)
        if not terminal_may_load(terminal):
            raise NotAllowedForKind()
        card_no = request.query_params.get("card_no", "")
        if not (card_no.isascii() and card_no.isdigit()) or not 8 <= len(card_no) <= 19:
            raise _refused("card_no", _("card_no must be 8 to 19 digits."))
        card = card_get(card_no)
        loads = [{"load_id": ld.load_id, "purse": ld.purse, "amount": ld.amount}
                 for ld in card_pending_loads(card)]
        return Response({"loads": loads})


class ConfigView(TerminalView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        terminal = self.terminal(request)
        terminal_touch(terminal)
        return Response(terminal_config(terminal))


class HeartbeatView(TerminalView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        report: Any = request.data
        if not isinstance(report, dict):
            raise InvalidRequest(_("The body must be a JSON object."))
        terminal = terminal_heartbeat(terminal=self.terminal(request), report=report)
        return Response({
            "server_time": ingest.server_time(),
            "blacklist_version": blacklist_version(),
            "access_list_version": access_list_version(terminal),
            "config_version": terminal.config_version,
        })
