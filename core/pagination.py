"""The page envelope of every list: `?page=` (1, 2, …) and `?page_size=` (1 to 500,
default 50). A value that is not such a number is a 400 `invalid_request` naming it; a
page past the last one is a 404, as DRF answers."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from core.api.serializers import MAX_INTEGER, QueryIntegerField, QuerySerializer, query_values


class PageQuery(QuerySerializer):
    page = QueryIntegerField(required=False, min_value=1, max_value=MAX_INTEGER)

    def get_fields(self) -> dict[str, serializers.Field]:
        largest = self.context.get("max_page_size", Pagination.max_page_size)
        return {**super().get_fields(),
                "page_size": QueryIntegerField(required=False, min_value=1, max_value=largest)}


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    asked: dict[str, Any]

    def paginate_queryset(self, queryset: Any, request: Request,
                          view: Any = None) -> list[Any] | None:
        self.asked = query_values(PageQuery, request.query_params,
                                  context={"max_page_size": self.max_page_size})
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Request) -> int:
        return int(self.asked.get("page_size") or self.page_size)

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        return self.asked.get("page") or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        bounds = {self.page_query_param: {"minimum": 1},
                  self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size}}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
