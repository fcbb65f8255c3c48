"""The serializers every API of the house shares: the strict input base, strict
integers, the query-string base and its value types, and the error envelope (schema only:
the handler in core.errors builds error bodies)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.errors import InvalidRequest

# Larger integers are refused as invalid input before any service sees them.
MAX_INTEGER = 10**12


# --- Input ------------------------------------------------------------------------------


_TEXT_FIELDS = (serializers.CharField, serializers.ChoiceField)


class InputSerializer(serializers.Serializer):
    """Base of every request body: keys it does not declare are refused, not ignored, and
    text fields take JSON strings only (DRF would turn 42 into "42")."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(k) for k in data if k not in self.fields)
            if unknown:
                raise serializers.ValidationError({k: [_("Unknown field.")] for k in unknown})
            not_text = [name for name, field in self.fields.items()
                        if isinstance(field, _TEXT_FIELDS) and name in data
                        and data[name] is not None and not isinstance(data[name], str)]
            if not_text:
                raise serializers.ValidationError({k: [_("Text is required.")] for k in not_text})
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer and nothing else: no strings, fractions or booleans. The sign is left
    to the services, which answer `invalid_amount` with the business rule's wording."""

    default_error_messages = {
        "not_integer": _("A whole number is required (not text, a fraction or true/false)."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_value", MAX_INTEGER)
        kwargs.setdefault("min_value", -MAX_INTEGER)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_integer")
        return int(data)


# --- Errors (schema only: the handler in core.errors builds them) ------------------------


class ErrorBodyOutput(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    cardholders = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text="unknown_cardholders / cardholders_without_card: the numbers concerned",
    )

    field = serializers.CharField(
        required=False, help_text="invalid_request: the body field or query parameter at fault "
                                  "(the first of `fields` when there are several)",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # Keys named like Serializer attributes cannot be declared on the class.
        return {
            **super().get_fields(),
            "fields": serializers.DictField(
                required=False, help_text="invalid_request: the reasons per field or query "
                                          "parameter"),
            "errors": serializers.ListField(
                child=serializers.DictField(), required=False,
                help_text="import_failed: [{line, message}] for every bad line",
            ),
        }


class ErrorOutput(serializers.Serializer):
    error = ErrorBodyOutput()


# --- Query strings ------------------------------------------------------------------------


class QuerySerializer(serializers.Serializer):
    """Base of a view's query-string parameters (its nested `Query`), read with
    core.api.views.query_params. Every value arrives as text; an empty value counts as
    absent (a required parameter then is missing). A parameter given twice, or carrying a
    NUL character, is refused whatever its type; each field refuses what it cannot read.
    Parameters it does not declare are left alone (pagination reads page and page_size)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            problems: dict[str, list[Any]] = {}
            for name, _field in self.fields.items():
                values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
                if len(values) > 1:
                    problems[name] = [_("Give this parameter once.")]
                elif any("\x00" in str(v) for v in values if v is not None):
                    problems[name] = [ProhibitNullCharactersValidator.message]
            if problems:
                raise serializers.ValidationError(problems)
        return super().to_internal_value(data)


def query_values(serializer_class: type[serializers.Serializer], data: Any,
                 **kwargs: Any) -> dict[str, Any]:
    """`data` (a query string) read by `serializer_class`; a value it cannot read is a 400
    `invalid_request` whose `field` and `fields` name the parameter."""
    serializer = serializer_class(data=data, **kwargs)
    if not serializer.is_valid():
        raise InvalidRequest.of(dict(serializer.errors))
    return dict(serializer.validated_data)


class QueryIntegerField(serializers.IntegerField):
    """A whole number in a query string: ASCII digits with an optional minus sign, within
    [min_value, max_value] (by default 0 to MAX_INTEGER). No fractions, spaces or
    exponents, and nothing so long that it could not be a count."""

    default_error_messages = {
        "not_integer": _("A whole number is required."),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_INTEGER)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        text = str(data)
        if not _WHOLE.match(text):
            self.fail("not_integer")
        return super().to_internal_value(text)


_WHOLE = re.compile(r"^-?[0-9]{1,30}\Z")


@extend_schema_field({"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "example": "2026-11"})
class MonthField(serializers.Field):
    """A month, `YYYY-MM`; read as the first day of that month."""

    default_error_messages = {"invalid": _("Use a month YYYY-MM.")}

    def to_internal_value(self, data: Any) -> dt.date:
        text = str(data)
        if not _MONTH.match(text):
            self.fail("invalid")
        try:
            return dt.date(int(text[:4]), int(text[5:]), 1)
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value.strftime("%Y-%m") if isinstance(value, dt.date) else value


_MONTH = re.compile(r"^[0-9]{4}-[0-9]{2}\Z")


@extend_schema_field({"type": "string", "example": "2026-03-01",
                      "description": "a date YYYY-MM-DD or an ISO 8601 date-time"})
class MomentField(serializers.Field):
    """A date (`YYYY-MM-DD`, the whole day in the server's time zone) or an ISO 8601
    date-time; one without an offset is read in the server's time zone. `end=True` makes
    a date mean the end of that day, so `to=2026-03-01` includes the first of March."""

    default_error_messages = {
        "invalid": _("Use a date YYYY-MM-DD or an ISO 8601 date-time such as "
                     "2026-03-01T08:00:00+08:00."),
    }

    def __init__(self, *, end: bool = False, **kwargs: Any) -> None:
        self.end = end
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dt.datetime:
        text = str(data).strip()
        # An unescaped "+" in a query string arrives as a space: "...T08:00:00 08:00".
        text = re.sub(r" (\d\d:?\d\d)$", r"+\1", text)
        try:
            if _DATE_ONLY.match(text):
                day = dt.date.fromisoformat(text) + dt.timedelta(days=1 if self.end else 0)
                return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except (ValueError, OverflowError):
            self.fail("invalid")
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment

    def to_representation(self, value: Any) -> Any:
        return value


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class PeriodQuery(serializers.Serializer):
    """`?from=&to=` of the transaction lists; page and page_size pass through."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {"from": MomentField(required=False), "to": MomentField(required=False, end=True)}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "from" in attrs and "to" in attrs and attrs["from"] >= attrs["to"]:
            raise serializers.ValidationError({"to": [_("to must be later than from.")]})
        return attrs
