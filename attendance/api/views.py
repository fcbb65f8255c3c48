"""HR's API (operations-api.md, Attendance): shifts, rosters, leave, daily results, the
month report, corrections with approval, month closing and its exceptions. Thin views:
bodies and queries read by their nested serializers, reads through
attendance.selectors, writes through attendance.services."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from attendance import reports, selectors, services
from attendance.models import (
    CorrectionStatus,
    ExceptionStatus,
    LeaveKind,
    ResultStatus,
    RoundingDirection,
    Supervisor,
)
from core.api.serializers import InputSerializer, MomentField, MonthField, QuerySerializer
from core.api.views import (
    FileFormatNegotiation,
    StaffAPIView,
    error_responses,
    paginated,
    query_params,
    validated,
)
from core.errors import InvalidRequest
from core.files import XLSX_CONTENT_TYPE, attachment
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.pagination import Pagination
from core.permissions import Area, StaffAreaPermission
from core.roles import Role, has_role

TAG = ["attendance"]
CODE = r"^[A-Za-z0-9_.-]{1,32}$"
NUMBER = r"^[A-Za-z0-9_.-]{1,32}$"


class DepartmentQuery(QuerySerializer):
    """A query naming a department: an unknown code is a 400 naming the parameter."""

    department = serializers.RegexField(CODE, required=False,
                                        help_text="an org unit's code (its subunits too)")

    def validate_department(self, value: str) -> str:
        if not selectors.department_known(value):
            raise serializers.ValidationError(_("No department has this code."))
        return value


# --- Shifts ----------------------------------------------------------------------------


class RoundingInput(InputSerializer):
    minutes = serializers.IntegerField(min_value=0, max_value=60)
    direction = serializers.ChoiceField(choices=RoundingDirection.choices)

    class Meta:
        ref_name = "AttendanceRounding"


class RoundingPair(InputSerializer):
    # "in"/"out" are keywords in Python: declared under other names, read by source.
    def get_fields(self) -> dict[str, serializers.Field]:
        return {"in": RoundingInput(required=False), "out": RoundingInput(required=False)}

    class Meta:
        ref_name = "AttendanceRoundingPair"


class FlexibleInput(InputSerializer):
    core_from = serializers.TimeField(format="%H:%M")
    core_to = serializers.TimeField(format="%H:%M")
    required_minutes = serializers.IntegerField(min_value=1, max_value=1440)

    class Meta:
        ref_name = "AttendanceFlexible"


class ShiftOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    start = serializers.TimeField(format="%H:%M")
    end = serializers.TimeField(format="%H:%M")
    grace_minutes = serializers.IntegerField()
    early_grace_minutes = serializers.IntegerField(allow_null=True)
    break_minutes = serializers.IntegerField()
    overtime_after_minutes = serializers.IntegerField()
    rounding = serializers.SerializerMethodField()
    flexible = serializers.SerializerMethodField()

    class Meta:
        ref_name = "AttendanceShift"

    def get_rounding(self, shift: Any) -> dict[str, Any]:
        def one(minutes: int, direction: str) -> dict[str, Any] | None:
            return {"minutes": minutes, "direction": direction} if minutes else None
        return {"in": one(shift.round_in_minutes, shift.round_in_direction),
                "out": one(shift.round_out_minutes, shift.round_out_direction)}

    def get_flexible(self, shift: Any) -> dict[str, Any] | None:
        if shift.core_from is None:
            return None
        return {"core_from": shift.core_from.strftime("%H:%M"),
                "core_to": shift.core_to.strftime("%H:%M"),
                "required_minutes": shift.required_minutes}


def _shift_values(data: dict[str, Any]) -> dict[str, Any]:
    """The API's nested body as the service's flat keyword arguments."""
    values = {k: v for k, v in data.items() if k not in ("rounding", "flexible", "code")}
    for kind, rounding in (data.get("rounding") or {}).items():
        values[f"round_{kind}_minutes"] = rounding["minutes"]
        values[f"round_{kind}_direction"] = rounding["direction"]
    if "flexible" in data:
        flexible = data["flexible"] or {}
        for name in ("core_from", "core_to", "required_minutes"):
            values[name] = flexible.get(name)
    return values


class ShiftFields(InputSerializer):
    name = serializers.CharField(max_length=100)
    start = serializers.TimeField(help_text="HH:MM")
    end = serializers.TimeField(help_text="HH:MM; at or before start: the next day")
    grace_minutes = serializers.IntegerField(min_value=0, max_value=240, default=0)
    early_grace_minutes = serializers.IntegerField(min_value=0, max_value=240, required=False,
                                                   allow_null=True)
    break_minutes = serializers.IntegerField(min_value=0, max_value=720, default=0)
    overtime_after_minutes = serializers.IntegerField(min_value=0, max_value=720, default=0)
    rounding = RoundingPair(required=False)
    flexible = FlexibleInput(required=False, allow_null=True)


class ShiftListView(StaffAPIView):
    area = Area.ATTENDANCE
    pagination_class = Pagination

    class Input(ShiftFields):
        code = serializers.RegexField(CODE)

        class Meta:
            ref_name = "AttendanceShiftCreate"

    @extend_schema(tags=TAG, responses={200: ShiftOutput(many=True),
                                        **error_responses(query=True)})
    def get(self, request: Request) -> Response:
        return paginated(view=self, request=request, queryset=selectors.shift_list(),
                         serializer_class=ShiftOutput)

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: ShiftOutput, **error_responses(
                       {409: ("shift_code_in_use",)}, body=True, idempotent=True)},
                   summary="A shift: fixed hours with grace minutes, or flexible")
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        shift = services.shift_create(code=data["code"], by=request.user, **_shift_values(data))
        return Response(ShiftOutput(shift).data, status=status.HTTP_201_CREATED)


class ShiftDetailView(StaffAPIView):
    area = Area.ATTENDANCE

    class Input(ShiftFields):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, partial=True, **kwargs)

        class Meta:
            ref_name = "AttendanceShiftUpdate"

    @extend_schema(tags=TAG, responses={200: ShiftOutput, **error_responses({404: ("not_found",)})})
    def get(self, request: Request, code: str) -> Response:
        return Response(ShiftOutput(selectors.shift_get(code)).data)

    @extend_schema(tags=TAG, request=Input, responses={200: ShiftOutput, **error_responses(
        {404: ("not_found",)}, body=True)},
        summary="Change a shift; the days it was rostered on are computed again")
    def patch(self, request: Request, code: str) -> Response:
        shift = selectors.shift_get(code)
        data = validated(self.Input, request.data)
        shift = services.shift_update(shift=shift, by=request.user, **_shift_values(data))
        return Response(ShiftOutput(shift).data)


# --- Rosters ---------------------------------------------------------------------------


class RosterEntryInput(InputSerializer):
    cardholder = serializers.RegexField(NUMBER)
    # "from" is a keyword: the field is named in get_fields.
    to = serializers.DateField()
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=7),
                                     min_length=1, max_length=7)
    shift = serializers.RegexField(CODE, allow_null=True, help_text="null: rest days (off)")

    class Meta:
        ref_name = "AttendanceRosterEntry"

    def get_fields(self) -> dict[str, serializers.Field]:
        return {"from": serializers.DateField(), **super().get_fields()}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["to"] < attrs["from"]:
            raise serializers.ValidationError({"to": [_("to is before from.")]})
        return attrs


class RosterOutput(serializers.Serializer):
    id = serializers.IntegerField()
    cardholder = serializers.CharField(source="cardholder.number")
    first = serializers.DateField()
    last = serializers.DateField()
    weekdays = serializers.ListField(child=serializers.IntegerField())
    shift = serializers.CharField(source="shift.code", allow_null=True, default=None)

    class Meta:
        ref_name = "AttendanceRosterOutput"

    def to_representation(self, instance: Any) -> dict[str, Any]:
        out = super().to_representation(instance)
        out["from"], out["to"] = out.pop("first"), out.pop("last")
        return out


class RosterView(StaffAPIView):
    area = Area.ATTENDANCE
    pagination_class = Pagination

    class Query(QuerySerializer):
        cardholder = serializers.RegexField(NUMBER, required=False)

        class Meta:
            ref_name = "AttendanceRosterQuery"

    class Input(InputSerializer):
        entries = RosterEntryInput(many=True, allow_empty=False)

        class Meta:
            ref_name = "AttendanceRosterPut"

    @extend_schema(tags=TAG, parameters=[Query], responses={
        200: RosterOutput(many=True), **error_responses(query=True)})
    def get(self, request: Request) -> Response:
        query = query_params(self.Query, request)
        return paginated(view=self, request=request,
                         queryset=selectors.roster_list(cardholder=query.get("cardholder")),
                         serializer_class=RosterOutput)

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={200: RosterOutput(many=True), **error_responses(
                       {400: ("unknown_cardholders", "unknown_shifts")}, body=True,
                       idempotent=True)},
                   summary="Roster entries: later ones override earlier ones on the same days")
    @idempotent
    def put(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        made = services.roster_put(entries=data["entries"], by=request.user)
        return Response(RosterOutput(made, many=True).data)


# --- Leave -----------------------------------------------------------------------------


class LeaveOutput(serializers.Serializer):
    id = serializers.IntegerField()
    cardholder = serializers.CharField(source="cardholder.number")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=LeaveKind.choices)
    status = serializers.CharField()
    note = serializers.CharField()

    class Meta:
        ref_name = "AttendanceLeave"

    def to_representation(self, instance: Any) -> dict[str, Any]:
        out = super().to_representation(instance)
        out["from"], out["to"] = out.pop("start"), out.pop("end")
        return out


class LeaveCreateView(StaffAPIView):
    area = Area.ATTENDANCE

    class Input(InputSerializer):
        cardholder = serializers.RegexField(NUMBER)
        to = MomentField(help_text="a date-time (a date: the start of that day)")
        kind = serializers.ChoiceField(choices=LeaveKind.choices)
        note = serializers.CharField(max_length=255, required=False, allow_blank=True,
                                     default="")

        class Meta:
            ref_name = "AttendanceLeaveCreate"

        def get_fields(self) -> dict[str, serializers.Field]:
            return {"from": MomentField(help_text="a date-time"), **super().get_fields()}

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: LeaveOutput, **error_responses(
                       {400: ("unknown_cardholders",), 409: ("leave_overlaps",)}, body=True,
                       idempotent=True)},
                   summary="Approved leave, whole or part days (HR approves by recording it)")
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        leave = services.leave_create(cardholder=data["cardholder"], start=data["from"],
                                      end=data["to"], kind=data["kind"], note=data["note"],
                                      by=request.user)
        return Response(LeaveOutput(leave).data, status=status.HTTP_201_CREATED)


# --- Results and the month report ------------------------------------------------------


class ResultOutput(serializers.Serializer):
    cardholder = serializers.CharField(source="cardholder.number")
    date = serializers.DateField()
    shift = serializers.CharField(allow_null=True)
    first_in = serializers.DateTimeField(allow_null=True)
    last_out = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=ResultStatus.choices)
    late_minutes = serializers.IntegerField()
    early_minutes = serializers.IntegerField()
    worked_minutes = serializers.IntegerField()
    overtime_minutes = serializers.IntegerField()
    overtime_kind = serializers.CharField(allow_null=True)
    leave_minutes = serializers.IntegerField()
    leave_kind = serializers.CharField(allow_null=True)
    corrected = serializers.BooleanField()
    flagged = serializers.BooleanField(help_text="a punch came from a card not live "
                                                 "(lost, replaced)")

    class Meta:
        ref_name = "AttendanceResult"

    def to_representation(self, instance: Any) -> dict[str, Any]:
        out = super().to_representation(instance)
        for name in ("shift", "overtime_kind", "leave_kind"):
            out[name] = out[name] or None
        return out


class ResultListView(StaffAPIView):
    area = Area.ATTENDANCE
    pagination_class = Pagination

    class Query(DepartmentQuery):
        date = serializers.DateField(required=False)
        to = serializers.DateField(required=False)
        cardholder = serializers.RegexField(NUMBER, required=False)
        status = serializers.ChoiceField(choices=ResultStatus.choices, required=False)

        class Meta:
            ref_name = "AttendanceResultQuery"

        def get_fields(self) -> dict[str, serializers.Field]:
            return {**super().get_fields(), "from": serializers.DateField(required=False)}

    @extend_schema(tags=TAG, parameters=[Query], responses={
        200: ResultOutput(many=True), **error_responses(query=True)},
        summary="One row per holder and rostered day")
    def get(self, request: Request) -> Response:
        q = query_params(self.Query, request)
        first, last = q.get("from"), q.get("to")
        if "date" in q:
            first = last = q["date"]
        rows = selectors.result_list(first=first, last=last, cardholder=q.get("cardholder"),
                                     department=q.get("department"), status=q.get("status"))
        return paginated(view=self, request=request, queryset=rows,
                         serializer_class=ResultOutput)


class ReportView(StaffAPIView):
    area = Area.ATTENDANCE
    content_negotiation_class = FileFormatNegotiation

    class Query(DepartmentQuery):
        month = MonthField()
        format = serializers.ChoiceField(choices=["json", "xlsx"], required=False)

        class Meta:
            ref_name = "AttendanceReportQuery"

    @extend_schema(
        tags=TAG, parameters=[Query],
        responses={(200, "application/json"): OpenApiTypes.OBJECT,
                   (200, XLSX_CONTENT_TYPE): OpenApiResponse(OpenApiTypes.BINARY,
                                                             description="the report as XLSX"),
                   **error_responses(query=True)},
        summary="Monthly totals per holder",
        description="`{month, department, count, holders: [{cardholder, name, rostered_days, "
                    "days_worked, late_count, late_minutes, early_count, early_minutes, "
                    "absent_days, missing_punch_days, off_days, worked_minutes, leave_days: "
                    "{kind: days}, leave_minutes: {kind: minutes}, overtime_minutes: "
                    "{workday, rest_day, holiday}, corrected_days, flagged_days}]}`")
    def get(self, request: Request) -> Any:
        q = query_params(self.Query, request)
        report = selectors.month_report(q["month"], q.get("department"))
        if q.get("format") != "xlsx":
            return Response(report)
        name = f"attendance-{report['month']}-{q.get('department') or 'all'}.xlsx"
        return attachment(reports.month_report_xlsx(report), filename=name,
                          content_type=XLSX_CONTENT_TYPE)


# --- Corrections -----------------------------------------------------------------------


class HRorSupervisor(BasePermission):
    """HR (and admin), or a staff user named supervisor of some org unit: the service
    checks the holder is theirs. Reads: HR and the auditor."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method != "POST":
            return StaffAreaPermission().has_permission(request, view)
        user = request.user
        return has_role(user, Role.HR) or (
            getattr(user, "is_authenticated", False)
            and Supervisor.objects.filter(user=user).exists())


class CorrectionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    cardholder = serializers.CharField(source="cardholder.number")
    ts = serializers.DateTimeField()
    reason = serializers.CharField()
    status = serializers.ChoiceField(choices=CorrectionStatus.choices)
    requested_by = serializers.CharField(source="requested_by.username")
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True,
                                       default=None)
    decided_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "AttendanceCorrection"


class CorrectionListView(StaffAPIView):
    area = Area.ATTENDANCE
    permission_classes = [HRorSupervisor]
    pagination_class = Pagination

    class Query(QuerySerializer):
        status = serializers.ChoiceField(choices=CorrectionStatus.choices, required=False)

        class Meta:
            ref_name = "AttendanceCorrectionQuery"

    class Input(InputSerializer):
        cardholder = serializers.RegexField(NUMBER)
        ts = MomentField(help_text="the moment of the missing punch")
        reason = serializers.CharField(max_length=255)

        class Meta:
            ref_name = "AttendanceCorrectionCreate"

    @extend_schema(tags=TAG, parameters=[Query], responses={
        200: CorrectionOutput(many=True), **error_responses(query=True)})
    def get(self, request: Request) -> Response:
        q = query_params(self.Query, request)
        return paginated(view=self, request=request,
                         queryset=selectors.correction_list(status=q.get("status")),
                         serializer_class=CorrectionOutput)

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: CorrectionOutput, **error_responses(
                       {400: ("unknown_cardholders",), 403: ("not_supervisor",)}, body=True,
                       idempotent=True)},
                   summary="A missing punch, by the holder's supervisor or HR; "
                           "counted once HR approves it")
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        correction = services.correction_add(cardholder=data["cardholder"], ts=data["ts"],
                                             reason=data["reason"], by=request.user)
        return Response(CorrectionOutput(correction).data, status=status.HTTP_201_CREATED)


class CorrectionDecideView(StaffAPIView):
    area = Area.ATTENDANCE
    approve = True

    @extend_schema(tags=TAG, request=None, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={200: CorrectionOutput, **error_responses(
                       {404: ("not_found",), 409: ("correction_already_decided",)},
                       idempotent=True)})
    @idempotent
    def post(self, request: Request, correction_id: str) -> Response:
        correction = selectors.correction_get(int(correction_id))
        correction = services.correction_decide(correction=correction, approve=self.approve,
                                                by=request.user)
        return Response(CorrectionOutput(selectors.correction_get(correction.pk)).data)


class CorrectionRejectView(CorrectionDecideView):
    approve = False


# --- Month closing and exceptions ------------------------------------------------------


class MonthCloseView(StaffAPIView):
    area = Area.ATTENDANCE

    class Input(InputSerializer):
        department = serializers.RegexField(CODE, allow_null=True, default=None,
                                            help_text="an org unit's code; null: everyone")

        class Meta:
            ref_name = "AttendanceMonthClose"

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={200: OpenApiTypes.OBJECT, **error_responses(
                       {409: ("month_already_closed",)}, body=True, idempotent=True)},
                   summary="Close a month: its results no longer change")
    @idempotent
    def post(self, request: Request, month: str) -> Response:
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}", month):
                raise ValueError(month)
            first = dt.date(int(month[:4]), int(month[5:]), 1)
        except ValueError as exc:
            raise InvalidRequest(_("Use a month YYYY-MM."), field="month") from exc
        data = validated(self.Input, request.data)
        closed = services.month_close(month=first, department=data["department"],
                                      by=request.user)
        return Response({"month": f"{closed.month:%Y-%m}", "department": data["department"],
                         "closed_at": closed.closed_at.isoformat(),
                         "closed_by": request.user.get_username()})


class ExceptionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    cardholder = serializers.CharField(source="cardholder.number")
    date = serializers.DateField()
    kind = serializers.CharField()
    proposed = serializers.JSONField()
    status = serializers.ChoiceField(choices=ExceptionStatus.choices)
    raised_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField()

    class Meta:
        ref_name = "AttendanceException"


class ExceptionListView(StaffAPIView):
    area = Area.ATTENDANCE
    pagination_class = Pagination

    class Query(QuerySerializer):
        status = serializers.ChoiceField(choices=ExceptionStatus.choices, required=False)

        class Meta:
            ref_name = "AttendanceExceptionQuery"

    @extend_schema(tags=TAG, parameters=[Query], responses={
        200: ExceptionOutput(many=True), **error_responses(query=True)},
        summary="What would change a closed month: late punches, corrections, changes")
    def get(self, request: Request) -> Response:
        q = query_params(self.Query, request)
        return paginated(view=self, request=request,
                         queryset=selectors.exception_list(status=q.get("status")),
                         serializer_class=ExceptionOutput)


class ExceptionResolveView(StaffAPIView):
    area = Area.ATTENDANCE

    class Input(InputSerializer):
        apply = serializers.BooleanField(help_text="true: write the proposed result into "
                                                   "the closed month")
        note = serializers.CharField(max_length=255, required=False, allow_blank=True,
                                     default="")

        class Meta:
            ref_name = "AttendanceExceptionResolve"

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={200: ExceptionOutput, **error_responses(
                       {404: ("not_found",), 409: ("attendance_exception_resolved",)},
                       body=True, idempotent=True)})
    @idempotent
    def post(self, request: Request, exception_id: str) -> Response:
        found = selectors.exception_get(int(exception_id))
        data = validated(self.Input, request.data)
        resolved = services.exception_resolve(exception=found, apply=data["apply"],
                                              note=data["note"], by=request.user)
        return Response(ExceptionOutput(selectors.exception_get(resolved.pk)).data)

