"""Cardholders sign in to the portal with their number; their Django user is
`holder:<number>` so that it can never collide with a staff username."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BasicAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.selectors import cardholder_for_user

PORTAL_USERNAME_PREFIX = "holder:"


def portal_username(number: str) -> str:
    return f"{PORTAL_USERNAME_PREFIX}{number}"


class CardholderBasicAuthentication(BasicAuthentication):
    """HTTP Basic where the user name is the cardholder's number."""

    def authenticate_credentials(self, userid: str, password: str,
                                 request: Request | None = None) -> tuple[Any, None]:
        return super().authenticate_credentials(portal_username(userid), password, request)


class CardholderBasicScheme(OpenApiAuthenticationExtension):
    target_class = CardholderBasicAuthentication
    name = "cardholderBasic"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "basic",
                "description": "the cardholder's number and portal password"}


class IsCardholder(BasePermission):
    """The cardholder portal: only users that are some cardholder's portal login."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return cardholder_for_user(request.user) is not None
