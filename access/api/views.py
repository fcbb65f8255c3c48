"""The security office's API (operations-api.md, Access control): doors, areas,
schedules, holidays, groups and their members, visitor grants, lockdowns. Thin views:
bodies and queries validated by their nested serializers, reads through
access.selectors, writes through access.services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from access import selectors, services
from access.api.serializers import (
    AreaOutput,
    ChangeOutput,
    DoorOutput,
    GroupOutput,
    HolidayOutput,
    LockdownOutput,
    ScheduleOutput,
    VisitorOutput,
    WindowInput,
    window_specs,
)
from access.models import AntipassbackMode, DoorDirection, HolidayPolicy, LockdownMode
from core.api.serializers import InputSerializer, QuerySerializer
from core.api.views import StaffAPIView, error_responses, paginated, query_params, validated
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.pagination import Pagination
from core.permissions import Area

TAG = ["access"]
CODE = r"^[A-Za-z0-9_.-]+$"


def code_field(**kwargs: Any) -> serializers.RegexField:
    return serializers.RegexField(CODE, max_length=32, **kwargs)


class DoorListView(StaffAPIView):
    area = Area.ACCESS
    pagination_class = Pagination

    class Query(QuerySerializer):
        controller = serializers.CharField(required=False, max_length=32,
                                           help_text="a controller's terminal id")
        area = serializers.CharField(required=False, max_length=32, help_text="an area code")

        class Meta:
            ref_name = "AccessDoorQuery"

    @extend_schema(tags=TAG, parameters=[Query],
                   responses={200: DoorOutput(many=True), **error_responses(query=True)},
                   summary="Every door, by controller and number")
    def get(self, request: Request) -> Response:
        query = query_params(self.Query, request)
        doors = selectors.door_list(controller=query.get("controller"), area=query.get("area"))
        return paginated(view=self, request=request, queryset=doors,
                         serializer_class=DoorOutput)


class DoorDetailView(StaffAPIView):
    area = Area.ACCESS

    class Input(InputSerializer):
        name = serializers.CharField(max_length=100, required=False, allow_blank=True)
        area = code_field(required=False, allow_null=True)
        direction = serializers.ChoiceField(choices=DoorDirection.choices, required=False,
                                            allow_null=True)
        unlock_schedule = code_field(required=False, allow_null=True,
                                     help_text="the door stands unlocked during it")
        first_card_group = code_field(required=False, allow_null=True,
                                      help_text="... only once a member badged in that day")

        class Meta:
            ref_name = "AccessDoorUpdate"

    @extend_schema(tags=TAG, request=Input, responses={200: DoorOutput, **error_responses(
        {400: ("unknown_area", "unknown_schedule", "unknown_group"),
         404: ("not_found",)}, body=True)})
    def patch(self, request: Request, door_id: str) -> Response:
        door = selectors.door_get(door_id)
        data = validated(self.Input, request.data)
        door = services.door_update(door=door, by=request.user, **data)
        return Response(DoorOutput(selectors.door_get(door.id)).data)


class AreaListView(StaffAPIView):
    area = Area.ACCESS
    pagination_class = Pagination

    class Input(InputSerializer):
        code = code_field()
        name = serializers.CharField(max_length=100)
        antipassback = serializers.ChoiceField(choices=AntipassbackMode.choices,
                                               default=AntipassbackMode.OFF)

        class Meta:
            ref_name = "AccessAreaCreate"

    @extend_schema(tags=TAG, responses={200: AreaOutput(many=True),
                                        **error_responses(query=True)})
    def get(self, request: Request) -> Response:
        return paginated(view=self, request=request, queryset=selectors.area_list(),
                         serializer_class=AreaOutput)

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: AreaOutput, **error_responses(
                       {409: ("code_in_use",)}, body=True, idempotent=True)})
    @idempotent
    def post(self, request: Request) -> Response:
        area = services.area_create(by=request.user, **validated(self.Input, request.data))
        return Response(AreaOutput(area).data, status=status.HTTP_201_CREATED)


class AreaDetailView(StaffAPIView):
    area = Area.ACCESS

    class Input(InputSerializer):
        name = serializers.CharField(max_length=100, required=False)
        antipassback = serializers.ChoiceField(choices=AntipassbackMode.choices, required=False)

        class Meta:
            ref_name = "AccessAreaUpdate"

    @extend_schema(tags=TAG, request=Input, responses={200: AreaOutput, **error_responses(
        {404: ("not_found",)}, body=True)})
    def patch(self, request: Request, code: str) -> Response:
        area = selectors.area_get(code)
        area = services.area_update(area=area, by=request.user,
                                    **validated(self.Input, request.data))
        return Response(AreaOutput(area).data)


class ScheduleListView(StaffAPIView):
    area = Area.ACCESS
    pagination_class = Pagination

    class Input(InputSerializer):
        code = code_field()
        name = serializers.CharField(max_length=100)
        windows = WindowInput(many=True)
        holidays = serializers.ChoiceField(choices=HolidayPolicy.choices,
                                           default=HolidayPolicy.CLOSED)

        class Meta:
            ref_name = "AccessScheduleCreate"

    @extend_schema(tags=TAG, responses={200: ScheduleOutput(many=True),
                                        **error_responses(query=True)})
    def get(self, request: Request) -> Response:
        return paginated(view=self, request=request, queryset=selectors.schedule_list(),
                         serializer_class=ScheduleOutput)

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: ScheduleOutput, **error_responses(
                       {409: ("code_in_use",)}, body=True, idempotent=True)})
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        schedule = services.schedule_create(
            code=data["code"], name=data["name"], windows=window_specs(data["windows"]),
            holidays=data["holidays"], by=request.user)
        return Response(ScheduleOutput(selectors.schedule_get(schedule.code)).data,
                        status=status.HTTP_201_CREATED)


class ScheduleDetailView(StaffAPIView):
    area = Area.ACCESS

    class Input(InputSerializer):
        name = serializers.CharField(max_length=100, required=False)
        windows = WindowInput(many=True, required=False)
        holidays = serializers.ChoiceField(choices=HolidayPolicy.choices, required=False)

        class Meta:
            ref_name = "AccessScheduleUpdate"

    @extend_schema(tags=TAG, responses={200: ScheduleOutput,
                                        **error_responses({404: ("not_found",)})})
    def get(self, request: Request, code: str) -> Response:
        return Response(ScheduleOutput(selectors.schedule_get(code)).data)

    @extend_schema(tags=TAG, request=Input, responses={200: ScheduleOutput, **error_responses(
        {404: ("not_found",)}, body=True)})
    def patch(self, request: Request, code: str) -> Response:
        schedule = selectors.schedule_get(code)
        data = validated(self.Input, request.data)
        if "windows" in data:
            data["windows"] = window_specs(data["windows"])
        services.schedule_update(schedule=schedule, by=request.user, **data)
        return Response(ScheduleOutput(selectors.schedule_get(code)).data)


class HolidayListView(StaffAPIView):
    area = Area.ACCESS
    pagination_class = Pagination

    class Input(InputSerializer):
        date = serializers.DateField()
        name = serializers.CharField(max_length=100)

        class Meta:
            ref_name = "AccessHolidayCreate"

    @extend_schema(tags=TAG, responses={200: HolidayOutput(many=True),
                                        **error_responses(query=True)})
    def get(self, request: Request) -> Response:
        return paginated(view=self, request=request, queryset=selectors.holiday_list(),
                         serializer_class=HolidayOutput)

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: HolidayOutput, **error_responses(
                       {409: ("holiday_exists",)}, body=True, idempotent=True)})
    @idempotent
    def post(self, request: Request) -> Response:
        holiday = services.holiday_create(by=request.user, **validated(self.Input, request.data))
        return Response(HolidayOutput(holiday).data, status=status.HTTP_201_CREATED)


GROUP_REFUSALS = {400: ("unknown_doors", "unknown_schedule")}


class GroupListView(StaffAPIView):
    area = Area.ACCESS
    pagination_class = Pagination

    class Input(InputSerializer):
        code = code_field()
        name = serializers.CharField(max_length=100)
        schedule = code_field()
        doors = serializers.ListField(child=serializers.CharField(max_length=40),
                                      max_length=10_000, default=list)

        class Meta:
            ref_name = "AccessGroupCreate"

    @extend_schema(tags=TAG, responses={200: GroupOutput(many=True),
                                        **error_responses(query=True)})
    def get(self, request: Request) -> Response:
        return paginated(view=self, request=request, queryset=selectors.group_list(),
                         serializer_class=GroupOutput)

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: GroupOutput, **error_responses(
                       {**GROUP_REFUSALS, 409: ("code_in_use",)}, body=True,
                       idempotent=True)})
    @idempotent
    def post(self, request: Request) -> Response:
        group = services.group_create(by=request.user, **validated(self.Input, request.data))
        return Response(GroupOutput(selectors.group_get(group.code)).data,
                        status=status.HTTP_201_CREATED)


class GroupDetailView(StaffAPIView):
    area = Area.ACCESS

    class Input(InputSerializer):
        name = serializers.CharField(max_length=100, required=False)
        schedule = code_field(required=False)
        doors = serializers.ListField(child=serializers.CharField(max_length=40),
                                      max_length=10_000, required=False,
                                      help_text="the group's whole new set of doors")

        class Meta:
            ref_name = "AccessGroupUpdate"

    @extend_schema(tags=TAG, responses={200: GroupOutput,
                                        **error_responses({404: ("not_found",)})})
    def get(self, request: Request, code: str) -> Response:
        return Response(GroupOutput(selectors.group_get(code)).data)

    @extend_schema(tags=TAG, request=Input, responses={200: GroupOutput, **error_responses(
        {**GROUP_REFUSALS, 404: ("not_found",)}, body=True)})
    def patch(self, request: Request, code: str) -> Response:
        group = selectors.group_get(code)
        services.group_update(group=group, by=request.user, **validated(self.Input,
                                                                        request.data))
        return Response(GroupOutput(selectors.group_get(code)).data)


class ChangeInput(InputSerializer):
    add = serializers.ListField(child=serializers.CharField(max_length=32), max_length=100_000,
                                default=list)
    remove = serializers.ListField(child=serializers.CharField(max_length=32),
                                   max_length=100_000, default=list)

    class Meta:
        ref_name = "AccessMembershipInput"


class GroupMembersView(StaffAPIView):
    area = Area.ACCESS

    class Output(ChangeOutput):
        members = serializers.ListField(child=serializers.CharField())

        class Meta:
            ref_name = "AccessGroupMembers"

    @extend_schema(tags=TAG, responses={200: Output,
                                        **error_responses({404: ("not_found",)})},
                   summary="The group's members named one by one")
    def get(self, request: Request, code: str) -> Response:
        group = selectors.group_get(code)
        return Response({"added": [], "removed": [],
                         "members": selectors.group_member_numbers(group)})

    @extend_schema(tags=TAG, request=ChangeInput, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={200: ChangeOutput, **error_responses(
                       {400: ("unknown_cardholders",), 404: ("not_found",)},
                       body=True, idempotent=True)},
                   summary="Add and remove members by cardholder number")
    @idempotent
    def post(self, request: Request, code: str) -> Response:
        group = selectors.group_get(code)
        result = services.group_members_change(group=group, by=request.user,
                                               **validated(ChangeInput, request.data))
        return Response(ChangeOutput(result).data)


class GroupOrgUnitsView(StaffAPIView):
    area = Area.ACCESS

    @extend_schema(tags=TAG, request=ChangeInput, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={200: ChangeOutput, **error_responses(
                       {400: ("unknown_org_units",), 404: ("not_found",)},
                       body=True, idempotent=True)},
                   summary="Bulk membership: add and remove org units (and the units below)")
    @idempotent
    def post(self, request: Request, code: str) -> Response:
        group = selectors.group_get(code)
        result = services.group_org_units_change(group=group, by=request.user,
                                                 **validated(ChangeInput, request.data))
        return Response(ChangeOutput(result).data)


class VisitorListView(StaffAPIView):
    area = Area.ACCESS

    class Input(InputSerializer):
        cardholder = serializers.CharField(max_length=32)
        doors = serializers.ListField(child=serializers.CharField(max_length=40), min_length=1,
                                      max_length=1000)
        note = serializers.CharField(max_length=255, required=False, allow_blank=True)

        def get_fields(self) -> dict[str, serializers.Field]:
            return {**super().get_fields(), "from": serializers.DateTimeField(),
                    "to": serializers.DateTimeField()}

        class Meta:
            ref_name = "AccessVisitorCreate"

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: VisitorOutput, **error_responses(
                       {400: ("unknown_cardholders", "unknown_doors")}, body=True,
                       idempotent=True)},
                   summary="A grant valid only from `from` to `to`")
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        grant = services.visitor_grant_create(
            cardholder=data["cardholder"], doors=data["doors"], valid_from=data["from"],
            valid_to=data["to"], note=data.get("note", ""), by=request.user)
        return Response(VisitorOutput(selectors.visitor_grant_get(grant.pk)).data,
                        status=status.HTTP_201_CREATED)


class VisitorRevokeView(StaffAPIView):
    area = Area.ACCESS

    @extend_schema(tags=TAG, request=None, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={200: VisitorOutput, **error_responses(
                       {404: ("not_found",), 409: ("visitor_grant_revoked",)},
                       idempotent=True)},
                   summary="End a visitor grant now")
    @idempotent
    def post(self, request: Request, grant_id: int) -> Response:
        grant = selectors.visitor_grant_get(int(grant_id))
        services.visitor_grant_revoke(grant=grant, by=request.user)
        return Response(VisitorOutput(selectors.visitor_grant_get(grant.pk)).data)


class LockdownListView(StaffAPIView):
    area = Area.ACCESS
    pagination_class = Pagination

    class Input(InputSerializer):
        area = code_field()
        mode = serializers.ChoiceField(choices=LockdownMode.choices)
        except_group = code_field(required=False, allow_null=True)
        reason = serializers.CharField(max_length=255, required=False, allow_blank=True)

        class Meta:
            ref_name = "AccessLockdownStart"

    @extend_schema(tags=TAG, responses={200: LockdownOutput(many=True),
                                        **error_responses(query=True)},
                   summary="Lockdowns in force")
    def get(self, request: Request) -> Response:
        return paginated(view=self, request=request, queryset=selectors.lockdowns_in_force(),
                         serializer_class=LockdownOutput)

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: LockdownOutput, **error_responses(
                       {400: ("unknown_area", "unknown_group"),
                        409: ("lockdown_active",)}, body=True, idempotent=True)},
                   summary="Lock an area (everyone denied but a group) or hold it open")
    @idempotent
    def post(self, request: Request) -> Response:
        lockdown = services.lockdown_start(by=request.user,
                                           **validated(self.Input, request.data))
        return Response(LockdownOutput(lockdown).data, status=status.HTTP_201_CREATED)


class LockdownEndView(StaffAPIView):
    area = Area.ACCESS

    @extend_schema(tags=TAG, request=None, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={200: LockdownOutput, **error_responses(
                       {404: ("not_found",), 409: ("lockdown_ended",)},
                       idempotent=True)})
    @idempotent
    def post(self, request: Request, lockdown_id: int) -> Response:
        lockdown = selectors.lockdown_get(int(lockdown_id))
        lockdown = services.lockdown_end(lockdown=lockdown, by=request.user)
        return Response(LockdownOutput(lockdown).data)
