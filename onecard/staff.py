"""Staff users, role groups and tokens, shared by `create_role_groups`, `issue_token` and
`load_demo` (a leading underscore: Django does not take this module for a command).

A role is a Django group named after `core.roles.Role` (the API checks membership);
the groups also carry the model permissions the admin console needs.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q
from rest_framework.authtoken.models import Token

from accounts.audit import audit_record
from core.roles import Role

_ACCOUNTS_READ = [
    "accounts.view_orgunit", "accounts.view_cardholder", "accounts.view_card",
    "accounts.view_merchant", "accounts.view_pendingload", "accounts.view_subsidybatch",
    "accounts.view_blacklistversion",
]
_LEDGER_READ = [
    "accounts.view_ledgeraccount", "accounts.view_posting", "accounts.view_entry",
]
_CLERK = [
    *_ACCOUNTS_READ,
    "accounts.add_orgunit", "accounts.change_orgunit",
    "accounts.add_cardholder", "accounts.change_cardholder",
    "accounts.add_card", "accounts.change_card",
]
_ACCESS_READ = [
    f"access.view_{model}" for model in (
        "area", "door", "schedule", "schedulewindow", "accessgroup", "accessgroupmember",
        "accessgrouporgunit", "visitorgrant", "lockdown", "accessevent", "accessalarm",
        "controllerlistversion", "accesslistchange")
] + ["core.view_holiday"]
# The security office's console: set-up through the access services, alarms acknowledged.
_SECURITY = [
    *_ACCESS_READ,
    *(f"access.{verb}_{model}" for verb in ("add", "change") for model in (
        "area", "door", "schedule", "schedulewindow", "accessgroup", "accessgroupmember",
        "accessgrouporgunit", "visitorgrant", "lockdown")),
    "access.change_accessalarm", "core.add_holiday", "core.delete_holiday",
]
_ATTENDANCE_READ = [
    f"attendance.view_{model}" for model in (
        "shift", "rosterentry", "leave", "correction", "supervisor", "dayresult", "monthclose",
        "attendanceexception")
]
# HR's console: set-up, leave, corrections and closing through the attendance services.
_HR = [
    "accounts.view_orgunit", "accounts.view_cardholder", "core.view_holiday", *_ATTENDANCE_READ,
    *(f"attendance.{verb}_{model}" for verb in ("add", "change") for model in (
        "shift", "rosterentry", "leave", "correction", "supervisor", "monthclose")),
    "attendance.change_attendanceexception",
]
_EVERYTHING_READ = [
    *_ACCOUNTS_READ, *_LEDGER_READ, "accounts.view_auditevent", "accounts.view_storedkey",
    "terminals.view_terminal", *_ACCESS_READ, *_ATTENDANCE_READ,
]

# What each role may see or do in the admin console ("app_label.codename").
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.CARD_OFFICE: _CLERK,
    Role.FINANCE: [*_ACCOUNTS_READ, *_LEDGER_READ],
    Role.SECURITY: ["accounts.view_cardholder", "accounts.view_card", "terminals.view_terminal",
                    *_SECURITY],
    Role.HR: _HR,
    Role.AUDITOR: _EVERYTHING_READ,
    Role.ADMIN: [*_CLERK, *_EVERYTHING_READ, *_SECURITY, *_HR],
    Role.BANK: [],
}


def _permissions(names: list[str]) -> list[Permission]:
    query = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    return list(Permission.objects.filter(query))


@transaction.atomic
def role_groups_ensure() -> list[Group]:
    """One group per role, holding (at least) that role's console permissions."""
    groups = []
    for role in Role:
        group, _created = Group.objects.get_or_create(name=role.value)
        group.permissions.add(*_permissions(ROLE_PERMISSIONS[role]))
        groups.append(group)
    return groups


@transaction.atomic
def staff_user_ensure(*, username: str, role: str, password: str | None = None,
                      superuser: bool = False, channel: str = "command") -> tuple[Any, Token]:
    """The staff user (created if missing) in the role's group, and their API token.

    A new user gets an unusable password unless one is given; a given password is set
    even on an existing user. Never records the password or the token itself."""
    role_groups_ensure()
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username)
    changed = created
    if password:
        user.set_password(password)
        changed = True
    elif created:
        user.set_unusable_password()
    if not user.is_staff or (superuser and not user.is_superuser):
        user.is_staff = True
        user.is_superuser = user.is_superuser or superuser
        changed = True
    if changed:
        user.save()
    group = Group.objects.get(name=role)
    newly_in_role = not user.groups.filter(pk=group.pk).exists()
    if newly_in_role:
        user.groups.add(group)
    token, token_created = Token.objects.get_or_create(user=user)
    if created or newly_in_role or token_created:
        audit_record(
            action="staff.issue_token", actor=None, subject=user, subject_id=username,
            after={"username": username, "role": role, "user_created": created,
                   "role_added": newly_in_role, "token_created": token_created},
            channel=channel,
        )
    return user, token
