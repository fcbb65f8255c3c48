"""Domain errors with stable codes, and the one place that turns any error into
`{"error": {"code", "message"}}`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions as drf
from rest_framework.response import Response


class DomainError(Exception):
    """A business rule said no. Subclasses fix the code and the HTTP status."""

    code = "error"
    status = 400
    default_message: Any = _("The request was refused.")

    def __init__(self, message: Any = None, **extra: Any) -> None:
        self.message = str(message if message is not None else self.default_message)
        self.extra = extra
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


class InvalidRequest(DomainError):
    code = "invalid_request"
    default_message = _("The request is not valid.")

    @classmethod
    def of(cls, detail: dict[str, Any], message: Any = None) -> InvalidRequest:
        """From a serializer's errors, {name: [reasons]}: `fields` keeps them all and
        `field` names the first, as the services' own refusals do."""
        return cls(message if message is not None else flatten_detail(detail),
                   field=next(iter(detail), None), fields=detail)


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_message = _("Not found.")


class Conflict(DomainError):
    status = 409


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 422
    default_message = _("This Idempotency-Key was already used with a different request.")


_DRF_CODES: list[tuple[type[drf.APIException], str]] = [
    (drf.ParseError, "malformed_body"),
    (drf.UnsupportedMediaType, "unsupported_media_type"),
    (drf.NotAuthenticated, "not_authenticated"),
    (drf.AuthenticationFailed, "authentication_failed"),
    (drf.PermissionDenied, "forbidden"),
    (drf.NotFound, "not_found"),
    (drf.MethodNotAllowed, "method_not_allowed"),
    (drf.NotAcceptable, "not_acceptable"),
    (drf.Throttled, "throttled"),
    (drf.ValidationError, "invalid_request"),
]


def flatten_detail(detail: Any) -> str:
    """A validation error's reasons as one line: "name: reason; other: reason"."""
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {flatten_detail(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return " ".join(flatten_detail(v) for v in detail)
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.body(), status=exc.status)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if not isinstance(exc, drf.APIException):
        return None
    code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), "error")
    body: dict[str, Any] = {"code": code, "message": flatten_detail(exc.detail)}
    if isinstance(exc, drf.ValidationError):
        body["fields"] = exc.detail
    status = exc.status_code
    # Token auth answers 401 without a challenge header; keep it 401 either way.
    response = Response({"error": body}, status=status)
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        response.status_code = 401
    return response


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": "not_found", "message": str(_("Not found."))}}, status=404
    )


def json_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": "server_error", "message": str(_("Internal error."))}}, status=500
    )
