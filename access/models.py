"""Door access control: areas, doors, schedules, access groups and their members, visitor
grants, lockdowns, the per-controller access-list versions and change log, door events
and alarms.

Models hold data and the constraints the database enforces; every write goes through
`access.services`. Holidays live in core (`core.models.Holiday`): attendance reads the
same calendar and may not import access.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _


class AntipassbackMode(models.TextChoices):
    OFF = "off", _("Off")
    SOFT = "soft", _("Soft (grant and flag)")
    HARD = "hard", _("Hard (deny)")


class Area(models.Model):
    """Doors grouped for anti-passback, lockdowns, presence and reports."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    antipassback = models.CharField(_("anti-passback"), max_length=8,
                                    choices=AntipassbackMode.choices,
                                    default=AntipassbackMode.OFF)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(antipassback__in=AntipassbackMode.values),
                                   name="access_area_antipassback_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class HolidayPolicy(models.TextChoices):
    CLOSED = "closed", _("Closed on holidays")
    OPEN = "open", _("Open on holidays")


class Schedule(models.Model):
    """Weekly windows (ScheduleWindow) and whether they also open on holidays."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    holidays = models.CharField(_("on holidays"), max_length=8, choices=HolidayPolicy.choices,
                                default=HolidayPolicy.CLOSED)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("schedule")
        verbose_name_plural = _("schedules")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(holidays__in=HolidayPolicy.values),
                                   name="access_schedule_holidays_valid"),
            # combo-<hash> is the server's name for a combined schedule in access lists.
            models.CheckConstraint(condition=~Q(code__startswith="combo-"),
                                   name="access_schedule_code_not_combo"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


ALL_DAYS = 0b1111111


class ScheduleWindow(models.Model):
    """Open from `start` to `end` on each of `days` (a bit per ISO weekday: bit 0 is
    Monday). A window whose end is at or before its start crosses midnight: it starts on
    the listed day and ends the next (22:00-06:00; 00:00-00:00 is a whole day)."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="windows",
                                 verbose_name=_("schedule"))
    days = models.PositiveSmallIntegerField(_("weekdays (bit 0 = Monday)"))
    start = models.TimeField(_("from"))
    end = models.TimeField(_("to"))

    class Meta:
        verbose_name = _("schedule window")
        verbose_name_plural = _("schedule windows")
        ordering = ["schedule", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(days__gte=1) & Q(days__lte=ALL_DAYS),
                                   name="access_window_days_range"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule_id} {self.weekdays} {self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def weekdays(self) -> list[int]:
        """ISO weekdays, 1 = Monday."""
        return [d for d in range(1, 8) if self.days & (1 << (d - 1))]

    @staticmethod
    def days_mask(weekdays: list[int]) -> int:
        mask = 0
        for day in weekdays:
            mask |= 1 << (day - 1)
        return mask


class DoorDirection(models.TextChoices):
    ENTRY = "entry", _("Entry")
    EXIT = "exit", _("Exit")


class Door(models.Model):
    """One door of a door controller, made when the controller is registered: its id is
    `<terminal_id>-<n>`."""

    id = models.CharField(_("door id"), max_length=40, primary_key=True)
    controller = models.ForeignKey("terminals.Terminal", on_delete=models.PROTECT,
                                   related_name="access_doors", verbose_name=_("controller"))
    number = models.PositiveSmallIntegerField(_("door number"))
    name = models.CharField(_("name"), max_length=100, blank=True, default="")
    area = models.ForeignKey(Area, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="doors", verbose_name=_("area"))
    direction = models.CharField(_("direction"), max_length=8, choices=DoorDirection.choices,
                                 null=True, blank=True)
    # The door stands unlocked during this schedule (a lobby in opening hours) ...
    unlock_schedule = models.ForeignKey(Schedule, null=True, blank=True,
                                        on_delete=models.PROTECT, related_name="+",
                                        verbose_name=_("unlocked hours"))
    # ... but, when set, only once a member of this group has badged in that day.
    first_card_group = models.ForeignKey("AccessGroup", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+",
                                         verbose_name=_("first-card group"))

    class Meta:
        verbose_name = _("door")
        verbose_name_plural = _("doors")
        ordering = ["controller", "number"]
        constraints = [
            models.UniqueConstraint(fields=["controller", "number"],
                                    name="access_door_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="access_door_number_pos"),
            models.CheckConstraint(
                condition=Q(direction__isnull=True) | Q(direction__in=DoorDirection.values),
                name="access_door_direction_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.name}".strip()


class AccessGroup(models.Model):
    """Doors under one schedule; its members are cardholders, named one by one
    (AccessGroupMember) or by org unit (AccessGroupOrgUnit)."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    schedule = models.ForeignKey(Schedule, on_delete=models.PROTECT, related_name="groups",
                                 verbose_name=_("schedule"))
    doors = models.ManyToManyField(Door, blank=True, related_name="groups",
                                   verbose_name=_("doors"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("access group")
        verbose_name_plural = _("access groups")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class AccessGroupMember(models.Model):
    group = models.ForeignKey(AccessGroup, on_delete=models.CASCADE, related_name="members",
                              verbose_name=_("access group"))
    cardholder = models.ForeignKey("accounts.Cardholder", on_delete=models.PROTECT,
                                   related_name="access_memberships",
                                   verbose_name=_("cardholder"))
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        verbose_name = _("access group member")
        verbose_name_plural = _("access group members")
        constraints = [
            models.UniqueConstraint(fields=["group", "cardholder"],
                                    name="access_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.group_id} {self.cardholder_id}"


class AccessGroupOrgUnit(models.Model):
    """Bulk membership: every cardholder of this org unit, and of the units below it,
    is a member of the group."""

    group = models.ForeignKey(AccessGroup, on_delete=models.CASCADE, related_name="org_units",
                              verbose_name=_("access group"))
    org_unit = models.ForeignKey("accounts.OrgUnit", on_delete=models.PROTECT,
                                 related_name="access_groups", verbose_name=_("org unit"))
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        verbose_name = _("access group org unit")
        verbose_name_plural = _("access group org units")
        constraints = [
            models.UniqueConstraint(fields=["group", "org_unit"],
                                    name="access_group_org_unit_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.group_id} {self.org_unit_id}"


class VisitorGrant(models.Model):
    """A temporary grant (a contractor, a conference guest): the doors at any hour from
    `valid_from` to `valid_to`; it lapses by itself, or is revoked earlier."""

    cardholder = models.ForeignKey("accounts.Cardholder", on_delete=models.PROTECT,
                                   related_name="visitor_grants", verbose_name=_("cardholder"))
    doors = models.ManyToManyField(Door, related_name="visitor_grants", verbose_name=_("doors"))
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("visitor grant")
        verbose_name_plural = _("visitor grants")
        ordering = ["-valid_from", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(valid_to__gt=F("valid_from")),
                                   name="access_visitor_period_order"),
        ]
        indexes = [models.Index(fields=["cardholder", "valid_to"], name="access_visitor_holder")]

    def __str__(self) -> str:
        return f"{self.cardholder_id} {self.valid_from:%Y-%m-%d %H:%M}-{self.valid_to:%H:%M}"


class LockdownMode(models.TextChoices):
    LOCKED = "locked", _("Locked (deny everyone but the excepted group)")
    OPEN = "open", _("Held open")


class Lockdown(models.Model):
    """An area locked, or held open (fire alarm), until ended; one at a time per area."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="lockdowns",
                             verbose_name=_("area"))
    mode = models.CharField(_("mode"), max_length=8, choices=LockdownMode.choices)
    except_group = models.ForeignKey(AccessGroup, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("excepted group"))
    reason = models.CharField(_("reason"), max_length=255, blank=True, default="")
    started_at = models.DateTimeField(_("started at"))
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("started by"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("ended by"))

    class Meta:
        verbose_name = _("lockdown")
        verbose_name_plural = _("lockdowns")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["area"], condition=Q(ended_at__isnull=True),
                                    name="access_one_lockdown_per_area"),
            models.CheckConstraint(condition=Q(mode__in=LockdownMode.values),
                                   name="access_lockdown_mode_valid"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="access_lockdown_period_order"),
            models.CheckConstraint(
                condition=Q(mode=LockdownMode.LOCKED) | Q(except_group__isnull=True),
                name="access_lockdown_except_only_locked"),
        ]

    def __str__(self) -> str:
        return f"{self.area_id} {self.mode} {self.started_at:%Y-%m-%d %H:%M}"


# --- Lists to controllers -----------------------------------------------------------------


class ControllerListVersion(models.Model):
    """A door controller's access-list version: grows by one per change that affects
    this controller, taken under this row's lock (gapless, as the blacklist counter)."""

    controller = models.OneToOneField("terminals.Terminal", on_delete=models.PROTECT,
                                      primary_key=True, related_name="access_list",
                                      verbose_name=_("controller"))
    version = models.BigIntegerField(_("version"), default=0)
    # Changes at or below this version were pruned from the log: a `since` older than it
    # gets the full list.
    pruned_through = models.BigIntegerField(_("log pruned through version"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("controller access-list version")
        verbose_name_plural = _("controller access-list versions")
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=0), name="access_list_version_nonneg"),
            models.CheckConstraint(condition=Q(pruned_through__gte=0)
                                   & Q(pruned_through__lte=F("version")),
                                   name="access_list_pruned_within"),
        ]

    def __str__(self) -> str:
        return f"{self.controller_id} v{self.version}"


class ChangeKind(models.TextChoices):
    GRANT = "grant", _("Grant")
    REVOKE = "revoke", _("Revoke")
    # The controller's doors block, schedules or holidays changed (no card concerned).
    SETTINGS = "settings", _("Door settings, schedules or holidays")


class AccessListChange(models.Model):
    """One line of a controller's change log: at `version` this card's grant on the
    controller changed (`grant`: it has one now; `revoke`: it opens none of its doors),
    or the controller's settings changed. A delta folds the lines after `since`."""

    controller = models.ForeignKey("terminals.Terminal", on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("controller"))
    version = models.BigIntegerField(_("version"))
    kind = models.CharField(_("kind"), max_length=8, choices=ChangeKind.choices)
    card_no = models.CharField(_("card number"), max_length=19, blank=True, default="")
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("access-list change")
        verbose_name_plural = _("access-list changes")
        ordering = ["controller", "version", "card_no"]
        constraints = [
            models.UniqueConstraint(fields=["controller", "version", "card_no"],
                                    name="access_change_unique_card"),
            models.CheckConstraint(condition=Q(version__gte=1), name="access_change_version_pos"),
            models.CheckConstraint(
                condition=(Q(kind__in=[ChangeKind.GRANT, ChangeKind.REVOKE])
                           & Q(card_no__regex=r"^[0-9]{8,19}$"))
                | (Q(kind=ChangeKind.SETTINGS) & Q(card_no="")),
                name="access_change_card_matches_kind"),
        ]
        indexes = [
            models.Index(fields=["controller", "card_no", "version"], name="access_change_card"),
        ]

    def __str__(self) -> str:
        return f"{self.controller_id} v{self.version} {self.kind} {self.card_no}".strip()


class ControllerGrant(models.Model):
    """A card's current grant on a controller, as the access list publishes it: the doors
    it may open under one schedule (a named schedule, or a combined `combo-<hash>`), and
    for a visitor's grant the period. Written only by the list refresh, beside the
    change-log line that announces it, under the controller's version lock."""

    controller = models.ForeignKey("terminals.Terminal", on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("controller"))
    card_no = models.CharField(_("card number"), max_length=19)
    cardholder = models.ForeignKey("accounts.Cardholder", on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("cardholder"))
    doors = models.JSONField(_("door numbers"))
    schedule = models.CharField(_("schedule code"), max_length=40)
    valid_from = models.BigIntegerField(_("valid from (epoch seconds)"), null=True, blank=True)
    valid_to = models.BigIntegerField(_("valid to (epoch seconds)"), null=True, blank=True)
    version = models.BigIntegerField(_("version written"))

    class Meta:
        verbose_name = _("controller grant")
        verbose_name_plural = _("controller grants")
        ordering = ["controller", "card_no"]
        constraints = [
            models.UniqueConstraint(fields=["controller", "card_no"],
                                    name="access_grant_unique_card"),
            models.CheckConstraint(condition=Q(version__gte=1), name="access_grant_version_pos"),
            models.CheckConstraint(
                condition=(Q(valid_from__isnull=True) & Q(valid_to__isnull=True))
                | (Q(valid_from__isnull=False) & Q(valid_to__gt=F("valid_from"))),
                name="access_grant_period"),
        ]
        indexes = [models.Index(fields=["cardholder"], name="access_grant_holder")]

    def __str__(self) -> str:
        return f"{self.controller_id} {self.card_no} {self.doors} {self.schedule}"


class CombinedSchedule(models.Model):
    """A schedule the server made for access lists (`combo-<hash>`, named by its content,
    so it never changes): the union of several schedules' windows for one grant, each
    window limited to the doors (and period) it came with."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    windows = models.JSONField(_("windows"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("combined schedule")
        verbose_name_plural = _("combined schedules")
        constraints = [
            models.CheckConstraint(condition=Q(code__startswith="combo-"),
                                   name="access_combined_code_prefix"),
        ]

    def __str__(self) -> str:
        return self.code


# --- Events and alarms ----------------------------------------------------------------


class DenyReason(models.TextChoices):
    """Why a door was not opened: the terminal protocol's reasons, and `lockdown`."""

    NOT_ALLOWED = "not_allowed", _("Not allowed at this door")
    BLACKLISTED = "blacklisted", _("Card blacklisted")
    SCHEDULE = "schedule", _("Outside the schedule")
    UNKNOWN_CARD = "unknown_card", _("Unknown card")
    ANTIPASSBACK = "antipassback", _("Anti-passback")
    LOCKDOWN = "lockdown", _("Lockdown")


class EventFlag(models.TextChoices):
    """Why security should look at an event."""

    REVOKED_CARD_LET_IN = "revoked_card_let_in", _("Revoked card let in on an old list")
    ANTIPASSBACK_SOFT = "antipassback_soft", _("Second entry without an exit (soft)")
    DECISION_DIFFERS = "decision_differs", _("The server would have decided otherwise")


class AccessEvent(models.Model):
    """One accepted `door` record: who, which door, granted or denied and why, and
    whether the controller acted on an old list."""

    record = models.OneToOneField("terminals.TerminalRecord", on_delete=models.PROTECT,
                                  related_name="access_event", verbose_name=_("terminal record"))
    door = models.ForeignKey(Door, on_delete=models.PROTECT, related_name="events",
                             verbose_name=_("door"))
    area = models.ForeignKey(Area, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="events", verbose_name=_("area"))
    cardholder = models.ForeignKey("accounts.Cardholder", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="access_events",
                                   verbose_name=_("cardholder"))
    card_no = models.CharField(_("card number"), max_length=32)
    granted = models.BooleanField(_("granted"))
    reason = models.CharField(_("reason"), max_length=16, choices=DenyReason.choices,
                              blank=True, default="")
    direction = models.CharField(_("direction"), max_length=8, choices=DoorDirection.choices,
                                 null=True, blank=True)
    ts = models.DateTimeField(_("time at the door"))
    received_at = models.DateTimeField(_("received at"))
    # The access-list version the controller had reported applying when it decided.
    list_version_held = models.BigIntegerField(_("list version held"), null=True, blank=True)
    flagged = models.BooleanField(_("flagged"), default=False)
    flag_reason = models.CharField(_("flag"), max_length=32, choices=EventFlag.choices,
                                   blank=True, default="")

    class Meta:
        verbose_name = _("door event")
        verbose_name_plural = _("door events")
        ordering = ["-ts", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(granted=True, reason="") | Q(granted=False),
                                   name="access_event_granted_no_reason"),
            models.CheckConstraint(condition=Q(flagged=False, flag_reason="")
                                   | (Q(flagged=True) & ~Q(flag_reason="")),
                                   name="access_event_flag_has_reason"),
        ]
        indexes = [
            models.Index(fields=["door", "ts"], name="access_event_door_ts"),
            models.Index(fields=["cardholder", "ts"], name="access_event_holder_ts"),
            models.Index(fields=["area", "ts"], name="access_event_area_ts"),
        ]

    def __str__(self) -> str:
        return f"{self.door_id} {self.card_no} {'granted' if self.granted else self.reason}"


class AlarmKind(models.TextChoices):
    DOOR_HELD_OPEN = "door_held_open", _("Door held open")
    DOOR_FORCED = "door_forced", _("Door forced open")


class AlarmStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")


class AccessAlarm(models.Model):
    """A door held open or forced, from a controller's heartbeat faults; security
    acknowledges it."""

    controller = models.ForeignKey("terminals.Terminal", on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("controller"))
    door_number = models.PositiveSmallIntegerField(_("door number"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=AlarmKind.choices)
    message = models.CharField(_("message"), max_length=255, blank=True, default="")
    raised_at = models.DateTimeField(_("raised at"))
    status = models.CharField(_("status"), max_length=16, choices=AlarmStatus.choices,
                              default=AlarmStatus.OPEN)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                        on_delete=models.PROTECT, related_name="+",
                                        verbose_name=_("acknowledged by"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True, default="")

    class Meta:
        verbose_name = _("door alarm")
        verbose_name_plural = _("door alarms")
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AlarmKind.values),
                                   name="access_alarm_kind_valid"),
            models.CheckConstraint(
                condition=(Q(status=AlarmStatus.OPEN) & Q(acknowledged_at__isnull=True))
                | (Q(status=AlarmStatus.ACKNOWLEDGED) & Q(acknowledged_at__isnull=False)),
                name="access_alarm_ack_matches_status"),
            # One open alarm per controller, door and kind (the heartbeat's row lock keeps
            # it; this holds it for any other writer). Door numbers start at 1, so 0 stands
            # for NULL (the controller as a whole), which would otherwise never collide.
            models.UniqueConstraint(F("controller"), Coalesce("door_number", 0), F("kind"),
                                    condition=Q(status=AlarmStatus.OPEN),
                                    name="access_alarm_one_open"),
        ]
        indexes = [models.Index(fields=["status", "raised_at"], name="access_alarm_status")]

    def __str__(self) -> str:
        return f"{self.controller_id} {self.kind} {self.status}"
