"""Every write of access control, each in one transaction with its audit row and the
list refresh it causes (`lists.lists_refresh`)."""

from access.services.groups import (
    group_create,
    group_members_change,
    group_org_units_change,
    group_update,
)
from access.services.lists import Affected, lists_refresh
from access.services.lockdowns import lockdown_end, lockdown_start
from access.services.setup import (
    WindowSpec,
    area_create,
    area_update,
    door_update,
    doors_register,
    holiday_create,
    holiday_delete,
    schedule_create,
    schedule_update,
)
from access.services.visitors import (
    visitor_grant_create,
    visitor_grant_revoke,
    visitor_grants_lapse,
)

__all__ = [
    "Affected",
    "WindowSpec",
    "area_create",
    "area_update",
    "door_update",
    "doors_register",
    "group_create",
    "group_members_change",
    "group_org_units_change",
    "group_update",
    "holiday_create",
    "holiday_delete",
    "lists_refresh",
    "lockdown_end",
    "lockdown_start",
    "schedule_create",
    "schedule_update",
    "visitor_grant_create",
    "visitor_grant_revoke",
    "visitor_grants_lapse",
]
