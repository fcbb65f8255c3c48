"""Door events, alarms and area reports for security (operations-api.md, Access control):
`GET /api/v1/access/events`, `GET /api/v1/access/alarms`,
`POST /api/v1/access/alarms/{id}/acknowledge`, `GET /api/v1/access/presence` and
`GET /api/v1/access/report`. Reads through access.event_selectors and access.reports,
the one write through access.alarms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from access import event_selectors, reports
from access.alarms import alarm_acknowledge
from access.models import AlarmKind, AlarmStatus, DenyReason, DoorDirection, EventFlag
from core.api.serializers import InputSerializer, MomentField, QuerySerializer
from core.api.views import (
    FileFormatNegotiation,
    StaffAPIView,
    error_responses,
    paginated,
    query_params,
    validated,
)
from core.errors import NotFound
from core.files import XLSX_CONTENT_TYPE, attachment
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.pagination import PageQuery, Pagination
from core.permissions import Area

TAG = ["access"]
DOOR_ID = r"^[A-Za-z0-9-]{1,40}$"
AREA_CODE = r"^[A-Za-z0-9_.-]{1,32}$"


def _area_field(**kwargs: Any) -> serializers.RegexField:
    return serializers.RegexField(AREA_CODE, help_text="an area's code", **kwargs)


def _format_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=["json", "xlsx"], required=False,
                                   help_text="json (the default) or xlsx")


def _known_area(code: str) -> str:
    try:
        event_selectors.area_of_code(code)
    except NotFound as exc:
        raise serializers.ValidationError(_("No area has this code.")) from exc
    return code


class PeriodMixin:
    """`from` (inclusive) and `to` (exclusive; a date means the end of that day)."""

    period_required = False

    def period_fields(self) -> dict[str, serializers.Field]:
        required = self.period_required
        return {"from": MomentField(required=required, help_text="a date or ISO 8601 moment"),
                "to": MomentField(required=required, end=True,
                                  help_text="a date (the whole day) or ISO 8601 moment")}

    @staticmethod
    def period_check(attrs: dict[str, Any]) -> dict[str, Any]:
        if "from" in attrs and "to" in attrs and attrs["from"] >= attrs["to"]:
            raise serializers.ValidationError({"to": [_("to must be later than from.")]})
        return attrs


# --- Events -------------------------------------------------------------------------------


class EventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    ts = serializers.DateTimeField(help_text="the moment at the door (the controller's clock)")
    door = serializers.CharField(source="door_id")
    door_name = serializers.CharField(source="door.name")
    controller = serializers.CharField(source="door.controller.terminal_id")
    area = serializers.CharField(source="area.code", allow_null=True, default=None)
    cardholder = serializers.CharField(source="cardholder.number", allow_null=True,
                                       default=None)
    name = serializers.CharField(source="cardholder.name", allow_null=True, default=None)
    card_no = serializers.CharField()
    result = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()
    direction = serializers.ChoiceField(choices=DoorDirection.choices, allow_null=True)
    list_version_held = serializers.IntegerField(
        allow_null=True, help_text="the access-list version the controller had reported "
                                   "applying (its last heartbeat before the passage)")
    flag = serializers.SerializerMethodField()
    received_at = serializers.DateTimeField()
    terminal_seq = serializers.IntegerField(source="record.terminal_seq")

    class Meta:
        ref_name = "AccessEvent"

    @extend_schema_field(serializers.ChoiceField(choices=["granted", "denied"]))
    def get_result(self, event: Any) -> str:
        return "granted" if event.granted else "denied"

    @extend_schema_field(serializers.ChoiceField(choices=DenyReason.choices, allow_null=True))
    def get_reason(self, event: Any) -> str | None:
        return event.reason or None

    @extend_schema_field(serializers.ChoiceField(choices=EventFlag.choices, allow_null=True))
    def get_flag(self, event: Any) -> str | None:
        return event.flag_reason or None


class EventListView(StaffAPIView):
    area = Area.ACCESS
    pagination_class = Pagination

    class Query(PeriodMixin, QuerySerializer):
        door = serializers.RegexField(DOOR_ID, required=False,
                                      help_text="a door id, <controller>-<n>")
        cardholder = serializers.RegexField(r"^\S{1,32}$", required=False,
                                            help_text="a cardholder's number")
        area = _area_field(required=False)
        result = serializers.ChoiceField(choices=["granted", "denied"], required=False)
        flagged = serializers.ChoiceField(choices=["true", "false"], required=False,
                                          help_text="true: only events flagged for security")

        class Meta:
            ref_name = "AccessEventQuery"

        def get_fields(self) -> dict[str, serializers.Field]:
            return {**super().get_fields(), **self.period_fields()}

        def validate_door(self, value: str) -> str:
            if not event_selectors.door_known(value):
                raise serializers.ValidationError(_("No door has this id."))
            return value

        def validate_cardholder(self, value: str) -> str:
            if not event_selectors.cardholder_known(value):
                raise serializers.ValidationError(_("No cardholder has this number."))
            return value

        def validate_area(self, value: str) -> str:
            return _known_area(value)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            return self.period_check(attrs)

    @extend_schema(tags=TAG, parameters=[Query],
                   responses={200: EventOutput(many=True), **error_responses(query=True)},
                   summary="Door events: the door records controllers uploaded, newest first")
    def get(self, request: Request) -> Response:
        query = query_params(self.Query, request)
        result, flagged = query.get("result"), query.get("flagged")
        events = event_selectors.event_list(
            door=query.get("door"), cardholder=query.get("cardholder"), area=query.get("area"),
            granted=None if result is None else result == "granted",
            flagged=None if flagged is None else flagged == "true",
            start=query.get("from"), end=query.get("to"))
        return paginated(view=self, request=request, queryset=events,
                         serializer_class=EventOutput)


# --- Alarms -------------------------------------------------------------------------------


class AlarmOutput(serializers.Serializer):
    id = serializers.IntegerField()
    controller = serializers.CharField(source="controller.terminal_id")
    door = serializers.SerializerMethodField(help_text="the door id, or null for the "
                                                       "controller as a whole")
    door_number = serializers.IntegerField(allow_null=True)
    kind = serializers.ChoiceField(choices=AlarmKind.choices)
    message = serializers.CharField(help_text="as the controller reported it")
    raised_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=AlarmStatus.choices)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", allow_null=True,
                                            default=None)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField()

    class Meta:
        ref_name = "AccessAlarm"

    def get_door(self, alarm: Any) -> str | None:
        if alarm.door_number is None:
            return None
        return f"{alarm.controller.terminal_id}-{alarm.door_number}"


class AlarmListView(StaffAPIView):
    area = Area.ACCESS
    pagination_class = Pagination

    class Query(QuerySerializer):
        status = serializers.ChoiceField(choices=AlarmStatus.choices, required=False)
        kind = serializers.ChoiceField(choices=AlarmKind.choices, required=False)
        controller = serializers.RegexField(r"^[A-Za-z0-9-]{1,32}$", required=False,
                                            help_text="a door controller's terminal id")

        class Meta:
            ref_name = "AccessAlarmQuery"

    @extend_schema(tags=TAG, parameters=[Query],
                   responses={200: AlarmOutput(many=True), **error_responses(query=True)},
                   summary="Door alarms (held open, forced open), the latest first")
    def get(self, request: Request) -> Response:
        query = query_params(self.Query, request)
        alarms = event_selectors.alarm_list(status=query.get("status"), kind=query.get("kind"),
                                            controller=query.get("controller"))
        return paginated(view=self, request=request, queryset=alarms,
                         serializer_class=AlarmOutput)


class AlarmAcknowledgeView(StaffAPIView):
    area = Area.ACCESS

    class Input(InputSerializer):
        note = serializers.CharField(max_length=255, required=False, allow_blank=True,
                                     default="", help_text="what security found or did")

        class Meta:
            ref_name = "AccessAlarmAcknowledge"

    @extend_schema(
        tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: AlarmOutput, **error_responses(
            {404: ("not_found",), 409: ("alarm_already_acknowledged",)}, body=True,
            idempotent=True)},
        summary="Acknowledge a door alarm (who and when are recorded)",
    )
    @idempotent
    def post(self, request: Request, alarm_id: str) -> Response:
        alarm = event_selectors.alarm_get(int(alarm_id))
        data = validated(self.Input, request.data)
        alarm = alarm_acknowledge(alarm=alarm, by=request.user, note=data["note"])
        return Response(AlarmOutput(event_selectors.alarm_get(alarm.pk)).data)


# --- Presence and the entries report -------------------------------------------------------


def _json_or_xlsx(page: type[serializers.Serializer], sheet: str) -> dict[Any, Any]:
    """The answers of a report: a page of JSON rows, or with ?format=xlsx the spreadsheet
    of every row."""
    return {(200, "application/json"): page,
            (200, XLSX_CONTENT_TYPE): OpenApiResponse(OpenApiTypes.BINARY,
                                                              description=sheet),
            **error_responses({404: ("not_found",)}, query=True)}


def _file(content: bytes, name: str) -> HttpResponse:
    return attachment(content, filename=name, content_type=XLSX_CONTENT_TYPE)


class EntryOutput(serializers.Serializer):
    """One row of the entries report, as access.reports writes it (the spreadsheet's too)."""

    ts = serializers.CharField(help_text="the moment at the door, ISO 8601 in local time")
    cardholder = serializers.CharField(allow_null=True, help_text="the holder's number")
    name = serializers.CharField(help_text="the holder's name (empty if unknown)")
    card_no = serializers.CharField()
    door = serializers.CharField(help_text="the door's id")
    door_name = serializers.CharField()
    direction = serializers.ChoiceField(choices=DoorDirection.choices, allow_null=True)

    class Meta:
        ref_name = "AccessReportEntry"

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return super().to_representation(reports.entry_row(instance))


class PresenceOutput(serializers.Serializer):
    cardholder = serializers.CharField(help_text="the holder's number")
    name = serializers.CharField()
    card_no = serializers.CharField()
    door = serializers.CharField(help_text="the door they entered by")
    door_name = serializers.CharField()
    since = serializers.CharField(help_text="the entry's moment, ISO 8601 in local time")

    class Meta:
        ref_name = "AccessPresenceRow"

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return super().to_representation(reports.presence_row(instance))


class _Page(serializers.Serializer):
    count = serializers.IntegerField(help_text="rows in the whole report")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    area = serializers.CharField(help_text="the area's code")
    name = serializers.CharField(help_text="the area's name")


class EntriesPage(_Page):
    results = EntryOutput(many=True)
    from_ = serializers.CharField(help_text="the period's start, ISO 8601")
    to = serializers.CharField(help_text="the period's end (exclusive), ISO 8601")

    class Meta:
        ref_name = "AccessReportPage"

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # a Python keyword
        return fields


class PresencePage(_Page):
    results = PresenceOutput(many=True)
    as_of = serializers.CharField(help_text="the moment the answer describes, ISO 8601")

    class Meta:
        ref_name = "AccessPresencePage"


def _page_or_file(view: StaffAPIView, request: Request, query: dict[str, Any],
                  report: reports.Report, row: type[serializers.Serializer],
                  sheet: Callable[[reports.Report], bytes], name: str) -> Any:
    if query.get("format") == "xlsx":  # every row, whatever the page asked
        return _file(sheet(report), name)
    return paginated(view=view, request=request, queryset=report.events,
                     serializer_class=row, extra=report.heading)


class PresenceView(StaffAPIView):
    area = Area.ACCESS
    content_negotiation_class = FileFormatNegotiation

    class Query(PageQuery):
        area = _area_field()
        format = _format_field()

        class Meta:
            ref_name = "AccessPresenceQuery"

        def validate_area(self, value: str) -> str:
            return _known_area(value)

    @extend_schema(
        tags=TAG, parameters=[Query],
        responses=_json_or_xlsx(PresencePage, "the whole list as a spreadsheet"),
        summary="Who is inside an area now (last entry without a later exit), for a muster",
        description="Paged `{count, next, previous, results: [{cardholder, name, card_no, "
                    "door, door_name, since}], area, name, as_of}`, the longest inside first; "
                    "the spreadsheet holds every row. Only doors marked entry or exit count.",
    )
    def get(self, request: Request) -> Any:
        query = query_params(self.Query, request)
        area = event_selectors.area_of_code(query["area"])
        return _page_or_file(self, request, query, reports.area_presence_report(area),
                             PresenceOutput, reports.presence_xlsx,
                             f"presence-{area.code}.xlsx")


class EntriesReportView(StaffAPIView):
    area = Area.ACCESS
    content_negotiation_class = FileFormatNegotiation

    class Query(PeriodMixin, PageQuery):
        period_required = True
        area = _area_field()
        format = _format_field()

        class Meta:
            ref_name = "AccessReportQuery"

        def get_fields(self) -> dict[str, serializers.Field]:
            return {**super().get_fields(), **self.period_fields()}

        def validate_area(self, value: str) -> str:
            return _known_area(value)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            return self.period_check(attrs)

    @extend_schema(
        tags=TAG, parameters=[Query],
        responses=_json_or_xlsx(EntriesPage, "every entry of the period as a spreadsheet"),
        summary="Every entry to an area in a period",
        description="Paged `{count, next, previous, results: [{ts, cardholder, name, card_no, "
                    "door, door_name, direction}], area, name, from, to}` in order (by the "
                    "moment at the door): granted passages at the area's entry doors and at "
                    "its doors with no direction; the spreadsheet holds every row.",
    )
    def get(self, request: Request) -> Any:
        query = query_params(self.Query, request)
        area = event_selectors.area_of_code(query["area"])
        day = query["from"].date().isoformat()
        return _page_or_file(self, request, query,
                             reports.area_entries_report(area, query["from"], query["to"]),
                             EntryOutput, reports.entries_xlsx,
                             f"entries-{area.code}-{day}.xlsx")
