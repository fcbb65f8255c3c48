"""Who may call what: one table of areas and roles, read by the permission classes and
by the tests (operations-api.md, Authentication and roles)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

from core.roles import Role, has_role


class Area(enum.StrEnum):
    CARDHOLDERS = "cardholders"
    CARDS = "cards"
    PERSONALIZATION = "personalization"
    SUBSIDIES = "subsidies"
    MERCHANTS = "merchants"
    TERMINALS = "terminals"
    EXCEPTIONS = "exceptions"
    BANK_TRANSFERS = "bank_transfers"
    BANK_STATEMENTS = "bank_statements"
    CASH = "cash"
    CORRECTIONS = "corrections"
    ACCESS = "access"
    ATTENDANCE = "attendance"


@dataclass(frozen=True)
class AreaAccess:
    """`roles` may read and change the area; admin always may; the auditor may read
    it unless `auditor_reads` is off (key material is not a record to audit)."""

    roles: frozenset[str]
    auditor_reads: bool = True


ROLE_MATRIX: dict[Area, AreaAccess] = {
    Area.CARDHOLDERS: AreaAccess(frozenset({Role.CARD_OFFICE})),
    Area.CARDS: AreaAccess(frozenset({Role.CARD_OFFICE})),
    Area.PERSONALIZATION: AreaAccess(frozenset({Role.CARD_OFFICE}), auditor_reads=False),
    Area.SUBSIDIES: AreaAccess(frozenset({Role.CARD_OFFICE, Role.FINANCE})),
    Area.MERCHANTS: AreaAccess(frozenset({Role.FINANCE})),
    Area.TERMINALS: AreaAccess(frozenset()),  # admin only; the auditor reads
    Area.EXCEPTIONS: AreaAccess(frozenset({Role.FINANCE})),
    Area.CASH: AreaAccess(frozenset({Role.CARD_OFFICE, Role.FINANCE})),
    Area.CORRECTIONS: AreaAccess(frozenset({Role.CARD_OFFICE, Role.FINANCE})),
    Area.BANK_TRANSFERS: AreaAccess(frozenset({Role.BANK})),
    Area.BANK_STATEMENTS: AreaAccess(frozenset({Role.FINANCE})),
    Area.ACCESS: AreaAccess(frozenset({Role.SECURITY})),
    Area.ATTENDANCE: AreaAccess(frozenset({Role.HR})),
}


def role_may(role: str, area: Area, method: str) -> bool:
    """The table's answer for a user holding exactly `role`."""
    access = ROLE_MATRIX[area]
    if role == Role.ADMIN or role in access.roles:
        return True
    return role == Role.AUDITOR and access.auditor_reads and method.upper() in SAFE_METHODS


class StaffAreaPermission(BasePermission):
    """Staff views name their `area`; cardholders' portal users hold no role and get 403."""

    def has_permission(self, request: Any, view: Any) -> bool:
        access = ROLE_MATRIX[view.area]
        reading = request.method in SAFE_METHODS and access.auditor_reads
        return has_role(request.user, *access.roles, read_only=reading)
