"""Query-string filters of the list endpoints (django-filter; a bad value answers 400)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from accounts.models import Card, Cardholder, CardholderKind, CardholderStatus, CardStatus


class CardholderFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", max_length=100,
                                  help_text="part of the number or the name")
    kind = django_filters.ChoiceFilter(choices=CardholderKind.choices)
    department = django_filters.CharFilter(field_name="org_unit__code", max_length=32)
    status = django_filters.ChoiceFilter(choices=CardholderStatus.choices)

    class Meta:
        model = Cardholder
        fields: list[str] = []

    def search(self, queryset: QuerySet[Cardholder], name: str, value: str) -> QuerySet[Cardholder]:
        return queryset.filter(Q(number__icontains=value) | Q(name__icontains=value))


class CardFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", max_length=40,
                                  help_text="part of the card number or the UID")
    status = django_filters.ChoiceFilter(choices=CardStatus.choices)
    cardholder = django_filters.CharFilter(field_name="cardholder__number", max_length=32,
                                           help_text="the cardholder's number")

    class Meta:
        model = Card
        fields: list[str] = []

    def search(self, queryset: QuerySet[Card], name: str, value: str) -> QuerySet[Card]:
        return queryset.filter(Q(card_no__contains=value) | Q(uid__icontains=value))
