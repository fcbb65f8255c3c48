"""Output shapes of the access API, and the window format schedules are written in."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from access.models import AccessGroup, Schedule, VisitorGrant
from access.services import WindowSpec
from core.api.serializers import InputSerializer

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]\Z")


@extend_schema_field({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
                      "example": "07:30"})
class ClockField(serializers.Field):
    """A time of day, HH:MM."""

    default_error_messages = {"invalid": _("Use a time of day HH:MM, 00:00 to 23:59.")}

    def to_internal_value(self, data: Any) -> dt.time:
        if not isinstance(data, str) or not _HHMM.match(data):
            self.fail("invalid")
        return dt.time.fromisoformat(data)

    def to_representation(self, value: Any) -> str:
        return value.strftime("%H:%M") if isinstance(value, dt.time) else str(value)


class WindowInput(InputSerializer):
    """`to` at or before `from` crosses midnight (22:00-06:00); 00:00-00:00 is a whole day."""

    days = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=7),
                                 min_length=1, max_length=7, help_text="ISO weekdays, 1 = Monday")

    def get_fields(self) -> dict[str, serializers.Field]:
        return {**super().get_fields(), "from": ClockField(), "to": ClockField()}

    class Meta:
        ref_name = "AccessWindow"


def window_specs(windows: list[dict[str, Any]]) -> list[WindowSpec]:
    return [WindowSpec(days=w["days"], start=w["from"], end=w["to"]) for w in windows]


class DoorOutput(serializers.Serializer):
    id = serializers.CharField()
    controller = serializers.CharField(source="controller.terminal_id")
    door = serializers.IntegerField(source="number")
    name = serializers.CharField()
    area = serializers.CharField(source="area.code", allow_null=True, default=None)
    direction = serializers.CharField(allow_null=True)
    unlock_schedule = serializers.CharField(source="unlock_schedule.code", allow_null=True,
                                            default=None)
    first_card_group = serializers.CharField(source="first_card_group.code", allow_null=True,
                                             default=None)

    class Meta:
        ref_name = "AccessDoor"


class AreaOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    antipassback = serializers.CharField()

    class Meta:
        ref_name = "AccessArea"


class ScheduleOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    holidays = serializers.CharField()
    windows = serializers.SerializerMethodField()

    class Meta:
        ref_name = "AccessSchedule"

    @extend_schema_field(WindowInput(many=True))
    def get_windows(self, schedule: Schedule) -> list[dict[str, Any]]:
        return [{"days": w.weekdays, "from": w.start.strftime("%H:%M"),
                 "to": w.end.strftime("%H:%M")} for w in schedule.windows.all()]


class HolidayOutput(serializers.Serializer):
    date = serializers.DateField()
    name = serializers.CharField()

    class Meta:
        ref_name = "AccessHoliday"


class GroupOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    schedule = serializers.CharField(source="schedule.code")
    doors = serializers.SerializerMethodField()
    org_units = serializers.SerializerMethodField()

    class Meta:
        ref_name = "AccessGroup"

    def get_doors(self, group: AccessGroup) -> list[str]:
        return sorted(d.id for d in group.doors.all())

    def get_org_units(self, group: AccessGroup) -> list[str]:
        return sorted(u.org_unit.code for u in group.org_units.select_related("org_unit"))


class ChangeOutput(serializers.Serializer):
    added = serializers.ListField(child=serializers.CharField())
    removed = serializers.ListField(child=serializers.CharField())

    class Meta:
        ref_name = "AccessMembershipChange"


class VisitorOutput(serializers.Serializer):
    id = serializers.IntegerField()
    cardholder = serializers.CharField(source="cardholder.number")
    doors = serializers.SerializerMethodField()
    note = serializers.CharField()
    revoked_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "AccessVisitorGrant"

    def get_fields(self) -> dict[str, serializers.Field]:
        return {**super().get_fields(), "from": serializers.DateTimeField(source="valid_from"),
                "to": serializers.DateTimeField(source="valid_to")}

    def get_doors(self, grant: VisitorGrant) -> list[str]:
        return sorted(d.id for d in grant.doors.all())


class LockdownOutput(serializers.Serializer):
    id = serializers.IntegerField()
    area = serializers.CharField(source="area.code")
    mode = serializers.CharField()
    except_group = serializers.CharField(source="except_group.code", allow_null=True,
                                         default=None)
    reason = serializers.CharField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "AccessLockdown"

