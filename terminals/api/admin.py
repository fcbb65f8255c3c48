"""Terminal administration for the console (operations-api.md, "Terminals and
merchants"): role admin; the auditor reads."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.serializers import InputSerializer
from core.api.views import StaffAPIView
from core.errors import InvalidRequest
from core.permissions import Area
from terminals import selectors, services


class ReasonInput(InputSerializer):
    reason = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


def _reason(request: Request) -> str:
    form = ReasonInput(data=request.data)
    form.is_valid(raise_exception=True)
    return str(form.validated_data["reason"])


class TerminalListView(StaffAPIView):
    area = Area.TERMINALS

    @extend_schema(parameters=[OpenApiParameter("kind", str), OpenApiParameter("status", str)],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status")
        rows = [selectors.terminal_overview(t) for t in selectors.terminal_list(
            kind=request.query_params.get("kind") or None)]
        if wanted:
            rows = [r for r in rows if r["status"] == wanted]
        return Response(rows)


class TerminalDisableView(StaffAPIView):
    area = Area.TERMINALS

    @extend_schema(request=ReasonInput, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, terminal_id: str) -> Response:
        terminal = services.terminal_disable(
            terminal=selectors.terminal_get(terminal_id), by=request.user, reason=_reason(request))
        return Response(selectors.terminal_overview(terminal))


class TerminalEnableView(StaffAPIView):
    area = Area.TERMINALS

    @extend_schema(request=ReasonInput, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, terminal_id: str) -> Response:
        terminal = services.terminal_enable(
            terminal=selectors.terminal_get(terminal_id), by=request.user, reason=_reason(request))
        return Response(selectors.terminal_overview(terminal))


class TerminalRotateSecretView(StaffAPIView):
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
