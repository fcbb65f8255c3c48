"""Terminal administration for the console (operations-api.md, "Terminals and
merchants"): role admin; the auditor reads."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.serializers import InputSerializer, QuerySerializer
from core.api.views import StaffAPIView, error_responses, query_params
from core.errors import InvalidRequest
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.permissions import Area
from terminals import selectors, services
from terminals.models import TerminalKind, TerminalStatus

# What the list's `status` says of a terminal (selectors.terminal_status).
OVERVIEW_STATUSES = ["online", "offline",
                     *(s for s in TerminalStatus.values if s != TerminalStatus.ACTIVE)]


class ReasonInput(InputSerializer):
    reason = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


def _reason(request: Request) -> str:
    form = ReasonInput(data=request.data)
    form.is_valid(raise_exception=True)
    return str(form.validated_data["reason"])


class TerminalListView(StaffAPIView):
    area = Area.TERMINALS

    class Query(QuerySerializer):
        kind = serializers.ChoiceField(choices=TerminalKind.choices, required=False)
        status = serializers.ChoiceField(
            choices=[(s, s) for s in OVERVIEW_STATUSES], required=False,
            help_text="online, offline (3 missed heartbeats), or the registry's status")

    @extend_schema(parameters=[Query], responses={200: OpenApiTypes.OBJECT,
                                                  **error_responses(query=True)})
    def get(self, request: Request) -> Response:
        query = query_params(self.Query, request)
        wanted = query.get("status")
        rows = [selectors.terminal_overview(t)
                for t in selectors.terminal_list(kind=query.get("kind"))]
        if wanted:
            rows = [r for r in rows if r["status"] == wanted]
        return Response(rows)


class TerminalDisableView(StaffAPIView):
    area = Area.TERMINALS

    @extend_schema(request=ReasonInput, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={200: OpenApiTypes.OBJECT,
                              **error_responses({404: ("not_found",)}, body=True,
                                                idempotent=True)})
    @idempotent
    def post(self, request: Request, terminal_id: str) -> Response:
        terminal = services.terminal_disable(
            terminal=selectors.terminal_get(terminal_id), by=request.user, reason=_reason(request))
        return Response(selectors.terminal_overview(terminal))


class TerminalEnableView(StaffAPIView):
    area = Area.TERMINALS

    @extend_schema(request=ReasonInput, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={200: OpenApiTypes.OBJECT,
                              **error_responses({404: ("not_found",)}, body=True,
                                                idempotent=True)})
    @idempotent
    def post(self, request: Request, terminal_id: str) -> Response:
        terminal = services.terminal_enable(
            terminal=selectors.terminal_get(terminal_id), by=request.user, reason=_reason(request))
        return Response(selectors.terminal_overview(terminal))


class TerminalRotateSecretView(StaffAPIView):
    """No Idempotency-Key: a replayed answer would have to keep the new secret in clear
    (secrets are stored only wrapped under the KEK). A retry after a lost answer simply
    rotates again, and the secret it shows is the one that works."""

    area = Area.TERMINALS

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, terminal_id: str) -> Response:
        secret = services.terminal_rotate_secret(
            terminal=selectors.terminal_get(terminal_id), by=request.user)
        return Response({"secret": secret})


class TerminalConfigView(StaffAPIView):
    area = Area.TERMINALS

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def patch(self, request: Request, terminal_id: str) -> Response:
        data: Any = request.data
        if not isinstance(data, dict) or set(data) != {"params"} or not isinstance(
                data["params"], dict):
            raise InvalidRequest(_('The body is {"params": {...}}.'))
        terminal = services.terminal_config_update(
            terminal=selectors.terminal_get(terminal_id), params=data["params"], by=request.user)
        return Response(selectors.terminal_overview(terminal))
