"""The serializers every API of the house shares: the strict input base, strict
integers, date-or-moment query values and the error envelope (schema only: the handler in
core.errors builds error bodies)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

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

    def get_fields(self) -> dict[str, serializers.Field]:
        # Keys named like Serializer attributes cannot be declared on the class.
        return {
            **super().get_fields(),
            "fields": serializers.DictField(required=False,
                                            help_text="invalid_request: the reasons per field"),
            "errors": serializers.ListField(
                child=serializers.DictField(), required=False,
                help_text="import_failed: [{line, message}] for every bad line",
            ),
        }


class ErrorOutput(serializers.Serializer):
    error = ErrorBodyOutput()


# --- Query strings ------------------------------------------------------------------------


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
