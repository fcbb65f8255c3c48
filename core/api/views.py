"""What every API view of the house shares: the strict JSON parser, the staff base view
(who may call, by area of the role matrix), validation of bodies and query strings,
filtering and pagination helpers, and the documented error answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.serializers import ErrorOutput, query_values
from core.errors import InvalidRequest
from core.pagination import Pagination
from core.permissions import Area, StaffAreaPermission


class JSONBodyParser(JSONParser):
    """DRF's JSON parser, also refusing bodies nested too deeply for Python's parser."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(_("JSON parse error - the body is nested too deeply.")) from exc



class FileFormatNegotiation(DefaultContentNegotiation):
    """`?format=` picks a report's file (json, xlsx, pdf) in the view, not a DRF renderer."""

    class settings:  # read as DefaultContentNegotiation.settings
        URL_FORMAT_OVERRIDE = None


class StaffAPIView(APIView):
    """Card office, finance, admin and auditor calls; `area` picks the row of the role
    matrix (core.permissions.ROLE_MATRIX)."""

    area: ClassVar[Area]
    permission_classes = [StaffAreaPermission]
    parser_classes = [JSONBodyParser]


def validated(serializer_class: type[serializers.Serializer], data: Any,
              **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def query_params(serializer_class: type[serializers.Serializer], request: Request,
                 **kwargs: Any) -> dict[str, Any]:
    """The request's query string read by `serializer_class` (a view's nested `Query`, a
    core.api.serializers.QuerySerializer): a value it cannot read is a 400
    `invalid_request` whose `field` and `fields` name the parameter. Document the same
    class in the view's schema: `extend_schema(parameters=[Query])`."""
    return query_values(serializer_class, request.query_params, **kwargs)


def filtered(*, view: APIView, request: Request, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The view's `filterset_class` applied to the query string (a bad value is a 400
    `invalid_request` naming the parameter, as with query_params)."""
    try:
        return DjangoFilterBackend().filter_queryset(request, queryset, view)
    except ValidationError as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"query": exc.detail}
        raise InvalidRequest.of(dict(detail)) from exc


def paginated(*, view: APIView, request: Request, queryset: QuerySet[Any] | Sequence[Any],
              serializer_class: type[serializers.Serializer],
              context: dict[str, Any] | None = None,
              extra: dict[str, Any] | None = None) -> Response:
    """One page of `queryset` in the view's pagination envelope (by default {count, next,
    previous, results}); list views name `pagination_class` so the schema shows it."""
    paginator = (getattr(view, "pagination_class", None) or Pagination)()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context=context or {}).data
    response = paginator.get_paginated_response(data)
    response.data.update(extra or {})
    return response


_AUTH_ERRORS = {
    401: ("not_authenticated", "authentication_failed"),
    403: ("forbidden",),
}


_BODY_ERRORS = {400: ("malformed_body", "invalid_request"), 415: ("unsupported_media_type",)}
_QUERY_ERRORS = {400: ("invalid_request",)}
_IDEMPOTENCY_ERRORS = {422: ("idempotency_key_reused",)}


def error_responses(codes: dict[int, Sequence[str]] | None = None, *, body: bool = False,
                    query: bool = False, idempotent: bool = False,
                    authenticated: bool = True) -> dict[int, OpenApiResponse]:
    """Schema entries for the error answers, each listing its stable codes: those given,
    plus the ones every authenticated call / request body / query string (parameters,
    page numbers) / Idempotency-Key can get."""
    every: dict[int, tuple[str, ...]] = {}
    for group in (_AUTH_ERRORS if authenticated else {}, _BODY_ERRORS if body else {},
                  _QUERY_ERRORS if query else {}, _IDEMPOTENCY_ERRORS if idempotent else {},
                  codes or {}):
        for status, names in group.items():
            every[status] = every.get(status, ()) + tuple(n for n in names
                                                          if n not in every.get(status, ()))
    return {
        status: OpenApiResponse(
            response=ErrorOutput, description="Error codes: " + ", ".join(f"`{n}`" for n in names)
        )
        for status, names in sorted(every.items())
    }
