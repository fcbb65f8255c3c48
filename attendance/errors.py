"""The attendance app's error catalogue: why an HR clerk's or a supervisor's change was
refused, with stable codes (operations-api.md, Attendance)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, DomainError


class UnknownShifts(DomainError):
    code = "unknown_shifts"
    default_message = _("Some shifts are unknown; nothing was changed.")


class ShiftCodeInUse(Conflict):
    code = "shift_code_in_use"
    default_message = _("A shift with this code already exists.")


class MonthAlreadyClosed(Conflict):
    code = "month_already_closed"
    default_message = _("This month is already closed for this department.")


class CorrectionDecided(Conflict):
    code = "correction_already_decided"
    default_message = _("This correction was already approved or rejected.")


class ExceptionResolved(Conflict):
    code = "attendance_exception_resolved"
    default_message = _("This exception was already resolved.")


class NotSupervisor(DomainError):
    code = "not_supervisor"
    status = 403
    default_message = _("Only HR or the holder's supervisor may add a correction.")


class LeaveOverlaps(Conflict):
    code = "leave_overlaps"
    default_message = _("This holder already has approved leave in that period.")
