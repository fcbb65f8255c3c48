"""Staff roles are Django groups with these names (operations-api.md, Authentication)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CARD_OFFICE = "card_office", _("Card office")
    FINANCE = "finance", _("Finance")
    SECURITY = "security", _("Security")
    HR = "hr", _("Human resources")
    AUDITOR = "auditor", _("Auditor")
    ADMIN = "admin", _("Administrator")
    BANK = "bank", _("Bank gateway")


def user_roles(user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_onecard_roles", None)
    if cached is None:
        cached = roles_cache(user, user.groups.values_list("name", flat=True))
    return cached


def roles_cache(user: Any, group_names: Any) -> set[str]:
    """Keep the user's roles from these group names on the user object for this request
    (the token authentication reads them with the token)."""
    roles = set(group_names) & set(Role.values)
    if user.is_superuser:
        roles.add(Role.ADMIN)
    user._onecard_roles = roles
    return roles


def has_role(user: Any, *roles: str, read_only: bool = False) -> bool:
    """Admin may do everything; an auditor may read everything and change nothing."""
    mine = user_roles(user)
    if Role.ADMIN in mine or mine & set(roles):
        return True
    return read_only and Role.AUDITOR in mine
