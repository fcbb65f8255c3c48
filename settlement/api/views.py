"""Reconciliation exceptions for finance (operations-api.md, "Reconciliation and
exceptions")."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Purse
from core.api.serializers import InputSerializer
from core.api.views import StaffAPIView
from core.errors import InvalidRequest, NotFound
from core.pagination import Pagination
from core.permissions import Area
from settlement.models import (
    ExceptionCode,
    ExceptionStatus,
    ReconciliationRun,
    ReconException,
)
from settlement.services import exception_resolve, reconcile_day


class ExceptionOutput(serializers.ModelSerializer):
    class Meta:
        model = ReconException
        fields = ["id", "code", "status", "business_date", "card_no", "terminal_id",
                  "records", "detail", "raised_at", "resolved_at", "note"]


class ExceptionListView(StaffAPIView):
    area = Area.EXCEPTIONS

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=ExceptionStatus.values),
                    OpenApiParameter("code", str, enum=ExceptionCode.values),
                    OpenApiParameter("date", OpenApiTypes.DATE)],
        responses={200: ExceptionOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        qs = ReconException.objects.all()
        for name, field, allowed in (("status", "status", ExceptionStatus.values),
                                     ("code", "code", ExceptionCode.values)):
            value = request.query_params.get(name)
            if value:
                if value not in allowed:
                    raise InvalidRequest(_("Unknown %(f)s.") % {"f": name}, field=name)
                qs = qs.filter(**{field: value})
        if request.query_params.get("date"):
            qs = qs.filter(business_date=request.query_params["date"])
        page = Pagination()
        rows = page.paginate_queryset(qs, request, view=self)
        return page.get_paginated_response(ExceptionOutput(rows, many=True).data)


class ResolveInput(InputSerializer):
    action = serializers.ChoiceField(choices=["none", "adjust", "write_off"])
    note = serializers.CharField(max_length=2000)
    amount = serializers.IntegerField(required=False, min_value=-1_000_000, max_value=1_000_000)
    purse = serializers.ChoiceField(choices=Purse.choices, required=False, default=Purse.MAIN)


class ExceptionResolveView(StaffAPIView):
    area = Area.EXCEPTIONS

    @extend_schema(request=ResolveInput, responses={200: ExceptionOutput, 202: ExceptionOutput})
    def post(self, request: Request, exception_id: str) -> Response:
        form = ResolveInput(data=request.data)
        form.is_valid(raise_exception=True)
        exc = ReconException.objects.filter(pk=int(exception_id)).first()
        if exc is None:
            raise NotFound()
        done = exception_resolve(exception=exc, by=request.user, **form.validated_data)
        body = ExceptionOutput(done.exception).data
        if done.awaiting_approval:
            return Response({**body, "awaiting_approval": True}, status=202)
        return Response(body)


class RunInput(InputSerializer):
    date = serializers.DateField()


class RunOutput(serializers.ModelSerializer):
    class Meta:
        model = ReconciliationRun
        fields = ["id", "business_date", "started_at", "finished_at", "raised", "ledger_breaches"]


class ReconciliationRunView(StaffAPIView):
    """Finance starts the reconciliation of a day on demand (the nightly job does
    yesterday); running a day again raises nothing twice."""

    area = Area.EXCEPTIONS

    @extend_schema(responses={200: RunOutput(many=True)})
    def get(self, request: Request) -> Response:
        page = Pagination()
        rows = page.paginate_queryset(ReconciliationRun.objects.all(), request, view=self)
        return page.get_paginated_response(RunOutput(rows, many=True).data)

    @extend_schema(request=RunInput, responses={201: RunOutput})
    def post(self, request: Request) -> Response:
        form = RunInput(data=request.data)
        form.is_valid(raise_exception=True)
        run = reconcile_day(business_date=form.validated_data["date"], by=request.user)
        return Response(RunOutput(run).data, status=201)
