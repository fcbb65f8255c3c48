"""Attendance's tables: shifts, rosters, leave, corrections, supervisors, the daily
results and what keeps them current (days waiting to be computed, closed months and
the exceptions a closed month raises). The rules that fill them are `rules.py`; every
write is a function in `services.py`."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from attendance.rules import Direction, OvertimeKind, Status


class RoundingDirection(models.TextChoices):
    DOWN = Direction.DOWN.value, _("Down")
    UP = Direction.UP.value, _("Up")
    NEAREST = Direction.NEAREST.value, _("Nearest")


class Shift(models.Model):
    """A working day's hours: fixed (start to end, with grace minutes), or flexible (a
    core window and the minutes owed). `end` at or before `start` ends the next day."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))
    grace_minutes = models.PositiveSmallIntegerField(_("grace minutes (late)"), default=0)
    early_grace_minutes = models.PositiveSmallIntegerField(
        _("grace minutes (early leave)"), null=True, blank=True)
    break_minutes = models.PositiveSmallIntegerField(_("break minutes"), default=0)
    overtime_after_minutes = models.PositiveSmallIntegerField(
        _("overtime counted after (minutes past the end)"), default=0)
    round_in_minutes = models.PositiveSmallIntegerField(_("round first punch to (minutes)"),
                                                        default=0)
    round_in_direction = models.CharField(_("direction"), max_length=8,
                                          choices=RoundingDirection.choices, blank=True,
                                          default="")
    round_out_minutes = models.PositiveSmallIntegerField(_("round last punch to (minutes)"),
                                                         default=0)
    round_out_direction = models.CharField(_("direction"), max_length=8,
                                           choices=RoundingDirection.choices, blank=True,
                                           default="")
    core_from = models.TimeField(_("core from (flexible)"), null=True, blank=True)
    core_to = models.TimeField(_("core to (flexible)"), null=True, blank=True)
    required_minutes = models.PositiveSmallIntegerField(_("minutes owed (flexible)"),
                                                        null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("shift")
        verbose_name_plural = _("shifts")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(core_from__isnull=True) & Q(core_to__isnull=True)
                           & Q(required_minutes__isnull=True))
                | (Q(core_from__isnull=False) & Q(core_to__isnull=False)
                   & Q(required_minutes__isnull=False)),
                name="attendance_shift_flexible_whole"),
            models.CheckConstraint(
                condition=(Q(round_in_minutes=0) | ~Q(round_in_direction=""))
                & (Q(round_out_minutes=0) | ~Q(round_out_direction="")),
                name="attendance_shift_rounding_has_direction"),
            models.CheckConstraint(condition=~Q(start=F("end")), name="attendance_shift_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RosterEntry(models.Model):
    """From `first` to `last`, on these ISO weekdays, the holder works this shift (or,
    without one, rests). A later entry overrides earlier ones on the days both cover:
    the id orders them."""

    cardholder = models.ForeignKey("accounts.Cardholder", on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("cardholder"))
    first = models.DateField(_("from"))
    last = models.DateField(_("to"))
    weekdays = models.JSONField(_("weekdays (1 = Monday)"))
    shift = models.ForeignKey(Shift, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="roster_entries", verbose_name=_("shift"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("roster entry")
        verbose_name_plural = _("roster entries")
        ordering = ["cardholder_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(last__gte=F("first")),
                                   name="attendance_roster_period"),
        ]
        indexes = [models.Index(fields=["cardholder", "first", "last"],
                                name="attendance_roster_holder")]

    def __str__(self) -> str:
        return f"{self.cardholder_id} {self.first}..{self.last} {self.shift_id or 'off'}"


class LeaveKind(models.TextChoices):
    ANNUAL = "annual", _("Annual leave")
    SICK = "sick", _("Sick leave")
    BUSINESS = "business", _("Business trip")
    OTHER = "other", _("Other leave")


class LeaveStatus(models.TextChoices):
    APPROVED = "approved", _("Approved")
    CANCELLED = "cancelled", _("Cancelled")


class Leave(models.Model):
    """Approved time off, from one moment to another: whole days or part of one."""

    cardholder = models.ForeignKey("accounts.Cardholder", on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("cardholder"))
    start = models.DateTimeField(_("from"))
    end = models.DateTimeField(_("to"))
    kind = models.CharField(_("kind"), max_length=16, choices=LeaveKind.choices)
    status = models.CharField(_("status"), max_length=16, choices=LeaveStatus.choices,
                              default=LeaveStatus.APPROVED)
    note = models.CharField(_("note"), max_length=255, blank=True, default="")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("approved by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("leave")
        verbose_name_plural = _("leave")
        ordering = ["-start", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="attendance_leave_period"),
            models.CheckConstraint(condition=Q(kind__in=LeaveKind.values),
                                   name="attendance_leave_kind"),
        ]
        indexes = [models.Index(fields=["cardholder", "start"], name="attendance_leave_holder")]

    def __str__(self) -> str:
        return f"{self.cardholder_id} {self.kind} {self.start:%Y-%m-%d %H:%M}"


class CorrectionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class Correction(models.Model):
    """A punch the clock did not record, added by the holder's supervisor or HR with a
    reason; kept apart from machine punches and counted once HR approves it."""

    cardholder = models.ForeignKey("accounts.Cardholder", on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("cardholder"))
    ts = models.DateTimeField(_("punch time"))
    reason = models.CharField(_("reason"), max_length=255)
    status = models.CharField(_("status"), max_length=16, choices=CorrectionStatus.choices,
                              default=CorrectionStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("requested by"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("punch correction")
        verbose_name_plural = _("punch corrections")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status=CorrectionStatus.PENDING) & Q(decided_at__isnull=True))
                | (~Q(status=CorrectionStatus.PENDING) & Q(decided_at__isnull=False)),
                name="attendance_correction_decided"),
            models.CheckConstraint(condition=~Q(reason=""), name="attendance_correction_reason"),
        ]
        indexes = [models.Index(fields=["cardholder", "ts"], name="attendance_correction_ts")]

    def __str__(self) -> str:
        return f"{self.cardholder_id} {self.ts:%Y-%m-%d %H:%M} {self.status}"


class Supervisor(models.Model):
    """A staff user who may add corrections for the holders of an org unit (and the
    units below it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+", verbose_name=_("user"))
    org_unit = models.ForeignKey("accounts.OrgUnit", on_delete=models.CASCADE,
                                 related_name="+", verbose_name=_("org unit"))

    class Meta:
        verbose_name = _("supervisor")
        verbose_name_plural = _("supervisors")
        constraints = [models.UniqueConstraint(fields=["user", "org_unit"],
                                               name="attendance_supervisor_once")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.org_unit_id}"


class ResultStatus(models.TextChoices):
    NORMAL = Status.NORMAL.value, _("Normal")
    LATE = Status.LATE.value, _("Late")
    EARLY_LEAVE = Status.EARLY_LEAVE.value, _("Early leave")
    LATE_AND_EARLY = Status.LATE_AND_EARLY.value, _("Late and early leave")
    MISSING_PUNCH = Status.MISSING_PUNCH.value, _("Missing punch")
    ABSENT = Status.ABSENT.value, _("Absent")
    ON_LEAVE = Status.ON_LEAVE.value, _("On leave")
    OFF = Status.OFF.value, _("Off")


class OvertimeKindChoice(models.TextChoices):
    NONE = OvertimeKind.NONE.value, _("None")
    WORKDAY = OvertimeKind.WORKDAY.value, _("Work day")
    REST_DAY = OvertimeKind.REST_DAY.value, _("Rest day")
    HOLIDAY = OvertimeKind.HOLIDAY.value, _("Holiday")


class DayResult(models.Model):
    """One holder's rostered day, as the rules make it from the punches."""

    cardholder = models.ForeignKey("accounts.Cardholder", on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("cardholder"))
    date = models.DateField(_("date"))
    shift = models.CharField(_("shift"), max_length=32, blank=True, default="")
    status = models.CharField(_("status"), max_length=16, choices=ResultStatus.choices)
    first_in = models.DateTimeField(_("first in"), null=True, blank=True)
    last_out = models.DateTimeField(_("last out"), null=True, blank=True)
    late_minutes = models.PositiveIntegerField(_("late minutes"), default=0)
    early_minutes = models.PositiveIntegerField(_("early leave minutes"), default=0)
    worked_minutes = models.PositiveIntegerField(_("worked minutes"), default=0)
    overtime_minutes = models.PositiveIntegerField(_("overtime minutes"), default=0)
    overtime_kind = models.CharField(_("overtime kind"), max_length=16,
                                     choices=OvertimeKindChoice.choices, blank=True, default="")
    leave_minutes = models.PositiveIntegerField(_("leave minutes"), default=0)
    leave_kind = models.CharField(_("leave kind"), max_length=16, choices=LeaveKind.choices,
                                  blank=True, default="")
    corrected = models.BooleanField(_("corrected"), default=False)
    # A punch came from a card that was lost, replaced or otherwise not live.
    flagged = models.BooleanField(_("flagged"), default=False)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("daily result")
        verbose_name_plural = _("daily results")
        ordering = ["date", "cardholder_id"]
        constraints = [
            models.UniqueConstraint(fields=["cardholder", "date"], name="attendance_result_once"),
            models.CheckConstraint(condition=Q(status__in=ResultStatus.values),
                                   name="attendance_result_status"),
            models.CheckConstraint(condition=Q(last_out__isnull=True)
                                   | Q(first_in__lte=F("last_out")),
                                   name="attendance_result_in_before_out"),
        ]
        indexes = [models.Index(fields=["date"], name="attendance_result_date")]

    def __str__(self) -> str:
        return f"{self.cardholder_id} {self.date} {self.status}"


class PendingDay(models.Model):
    """A holder's day to compute again: written in the transaction of whatever changed
    it (a punch accepted, a roster, leave or correction), taken and deleted by the task
    that computes it. The row, not the queued task, is what cannot be lost."""

    cardholder = models.ForeignKey("accounts.Cardholder", on_delete=models.CASCADE,
                                   related_name="+")
    date = models.DateField()
    # What marked it, should the day's month be closed: the exception's kind.
    cause = models.CharField(max_length=16, default="change")
    queued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cardholder", "date"],
                                               name="attendance_pending_once")]

    def __str__(self) -> str:
        return f"{self.cardholder_id} {self.date}"


class MonthClose(models.Model):
    """A month closed by HR, for one department (and the units below it) or, without
    one, for everyone: its results no longer change."""

    month = models.DateField(_("month (its first day)"))
    org_unit = models.ForeignKey("accounts.OrgUnit", null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("department"))
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("closed by"))
    closed_at = models.DateTimeField(_("closed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("closed month")
        verbose_name_plural = _("closed months")
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(F("month"), Coalesce("org_unit", 0),
                                    name="attendance_month_closed_once"),
            models.CheckConstraint(condition=Q(month__day=1), name="attendance_month_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.org_unit_id or '*'}"


class ExceptionKind(models.TextChoices):
    LATE_PUNCH = "late_punch", _("Punch for a closed month")
    CORRECTION = "correction", _("Correction for a closed month")
    CHANGE = "change", _("Roster or leave change for a closed month")


class ExceptionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class AttendanceException(models.Model):
    """Something that would change a closed month's result: HR decides; the result
    stays as it was closed. `proposed` is the result the rules would give now."""

    cardholder = models.ForeignKey("accounts.Cardholder", on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("cardholder"))
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=16, choices=ExceptionKind.choices)
    proposed = models.JSONField(_("result the rules give now"))
    status = models.CharField(_("status"), max_length=16, choices=ExceptionStatus.choices,
                              default=ExceptionStatus.OPEN)
    raised_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("resolved by"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True, default="")

    class Meta:
        verbose_name = _("attendance exception")
        verbose_name_plural = _("attendance exceptions")
        ordering = ["-raised_at", "-id"]
        constraints = [
            # One open exception per holder, day and kind: a second late punch updates it.
            models.UniqueConstraint(fields=["cardholder", "date", "kind"],
                                    condition=Q(status="open"),
                                    name="attendance_exception_open_once"),
            models.CheckConstraint(
                condition=(Q(status="open") & Q(resolved_at__isnull=True))
                | (Q(status="resolved") & Q(resolved_at__isnull=False)),
                name="attendance_exception_resolved"),
        ]

    def __str__(self) -> str:
        return f"{self.cardholder_id} {self.date} {self.kind} {self.status}"
