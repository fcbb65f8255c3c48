"""The door controller's half of the terminal protocol (terminal-protocol.md §5):
`GET access-list` and `POST access-check`. They live here, on the terminals app's signed
views, because only access knows the answers; onecard/urls.py routes them before the
rest of the terminal protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from access.selectors import access_check, access_list
from core.api.serializers import InputSerializer, StrictIntegerField
from core.api.views import error_responses, validated
from core.errors import InvalidRequest
from terminals.api.views import SINCE, TerminalView, since_of
from terminals.errors import NotAllowedForKind
from terminals.models import Terminal, TerminalKind
from terminals.services import terminal_touch

TAG = ["terminal"]
TERMINAL_ERRORS: dict[int, Sequence[str]] = {
    401: ("terminal_unknown", "bad_signature", "clock_skew", "replayed_nonce"),
    403: ("terminal_disabled", "not_allowed_for_kind"),
}


def _controller(view: TerminalView, request: Request) -> Terminal:
    terminal = view.terminal(request)
    if terminal.kind != TerminalKind.DOOR:
        raise NotAllowedForKind()
    return terminal


class AccessListView(TerminalView):
    @extend_schema(
        tags=TAG, parameters=[SINCE],
        responses={200: OpenApiTypes.OBJECT,
                   **error_responses({400: ("invalid_request",), **TERMINAL_ERRORS},
                                     authenticated=False)},
        summary="The controller's access list: full, or the changes after `since`")
    def get(self, request: Request) -> Response:
        since = since_of(request)
        controller = _controller(self, request)
        terminal_touch(controller)
        return Response(access_list(controller, since))


class AccessCheckView(TerminalView):
    class Input(InputSerializer):
        card_no = serializers.RegexField(r"^[0-9]{8,19}$", max_length=19)
        door = StrictIntegerField(min_value=1, max_value=255)
        ts = StrictIntegerField(min_value=0, max_value=2**53)

        class Meta:
            ref_name = "AccessCheck"

    class Output(serializers.Serializer):
        granted = serializers.BooleanField()
        reason = serializers.CharField(allow_null=True, help_text=(
            "null, or not_allowed, blacklisted, schedule, unknown_card, antipassback, lockdown"))

        class Meta:
            ref_name = "AccessDecision"

    @extend_schema(
        tags=TAG, request=Input,
        responses={200: Output, **error_responses(TERMINAL_ERRORS, body=True,
                                                  authenticated=False)},
        summary="The door decision at that moment, as the list would give it")
    def post(self, request: Request) -> Response:
        data: dict[str, Any] = validated(self.Input, request.data)
        controller = _controller(self, request)
        if data["door"] > controller.doors:
            raise InvalidRequest.of({"door": [
                f"door {data['door']}: this controller has doors 1 to {controller.doors}"]})
        decision = access_check(controller, data["card_no"], data["door"], data["ts"])
        return Response({"granted": decision.granted, "reason": decision.reason})
