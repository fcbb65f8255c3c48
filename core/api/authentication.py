"""Token authentication that reads the user's roles with the token: one query for both.
DRF's own reads the token and its user, and the role check then reads the user's groups
(`core.roles.user_roles`): a round trip more on every staff request, which under load
costs a clerk's top-up several milliseconds waiting for a core."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from core.roles import roles_cache


class TokenWithRolesAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, as DRF's, answering the same errors."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if connection.vendor != "postgresql":
            return super().authenticate_credentials(key)
        token = (self.get_model()._default_manager.select_related("user").filter(key=key)
                 .annotate(role_names=ArrayAgg("user__groups__name", default=[]))
                 .first())
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        roles_cache(token.user, [name for name in token.role_names if name])
        return (token.user, token)
