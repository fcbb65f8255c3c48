"""factory-boy factories shared by every app's tests."""

from __future__ import annotations

import itertools
import secrets

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts import services
from accounts.models import Card, Cardholder, CardholderKind, Merchant

_numbers = itertools.count(1)


class StaffFactory(factory.django.DjangoModelFactory):
    """A staff user; pass role="card_office" (etc.) to put them in that role's group."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    password = factory.django.Password("pw-staff-123")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            group, _ = Group.objects.get_or_create(name=extracted)
            self.groups.add(group)  # type: ignore[attr-defined]


def new_uid() -> str:
    return secrets.token_hex(4)


def make_cardholder(*, by=None, number: str | None = None, kind: str = CardholderKind.STUDENT,
                    department: str | None = "CS", password: str | None = None,
                    name: str = "Test Holder") -> Cardholder:
    by = by or StaffFactory(role="card_office")
    return services.cardholder_create(
        number=number or f"S{next(_numbers):07d}", name=name, kind=kind, department=department,
        password=password, by=by,
    )


def make_card(*, by=None, cardholder: Cardholder | None = None, deposit: int = 0,
              uid: str | None = None) -> Card:
    by = by or StaffFactory(role="card_office")
    holder = cardholder or make_cardholder(by=by)
    return services.card_issue(cardholder=holder, uid=uid or new_uid(), deposit=deposit, by=by)


def make_merchant(*, by=None, code: str | None = None, fee_rate_bp: int = 50) -> Merchant:
    by = by or StaffFactory(role="admin")
    code = code or f"M{next(_numbers):04d}"
    return services.merchant_create(
        code=code, name=f"Merchant {code}", fee_rate_bp=fee_rate_bp, by=by
    )
