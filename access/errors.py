"""The access app's error catalogue: why a security officer's change or a controller's
question was refused, with stable codes (operations-api.md, Access control)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, DomainError


class UnknownDoors(DomainError):
    code = "unknown_doors"
    default_message = _("Some doors are unknown; nothing was changed.")


class UnknownOrgUnits(DomainError):
    code = "unknown_org_units"
    default_message = _("Some org units are unknown; nothing was changed.")


class UnknownSchedule(DomainError):
    code = "unknown_schedule"
    default_message = _("No schedule has this code; nothing was changed.")


class UnknownArea(DomainError):
    code = "unknown_area"
    default_message = _("No area has this code; nothing was changed.")


class UnknownGroup(DomainError):
    code = "unknown_group"
    default_message = _("No access group has this code; nothing was changed.")


class CodeInUse(Conflict):
    code = "code_in_use"
    default_message = _("This code is already in use.")


class HolidayExists(Conflict):
    code = "holiday_exists"
    default_message = _("This date is already a holiday.")


class LockdownActive(Conflict):
    code = "lockdown_active"
    default_message = _("This area already has a lockdown in force; end it first.")


class LockdownEnded(Conflict):
    code = "lockdown_ended"
    default_message = _("This lockdown has already ended.")


class VisitorGrantRevoked(Conflict):
    code = "visitor_grant_revoked"
    default_message = _("This visitor grant was already revoked.")


class AlarmAcknowledged(Conflict):
    code = "alarm_already_acknowledged"
    default_message = _("This alarm was already acknowledged.")
