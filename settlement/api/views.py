"""Reconciliation exceptions and runs for finance (operations-api.md, "Reconciliation and
exceptions")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Purse
from core.api.serializers import InputSerializer, QuerySerializer, StrictIntegerField
from core.api.views import StaffAPIView, error_responses, paginated, query_params, validated
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.pagination import Pagination
from core.permissions import Area
from settlement.models import ExceptionCode, ExceptionStatus
from settlement.selectors import exception_get, exception_list, reconciliation_run_list
from settlement.services import RESOLVE_ACTIONS, exception_resolve, reconcile_day

TAG = ["reconciliation"]


class ExceptionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.ChoiceField(choices=ExceptionCode.choices)
    status = serializers.ChoiceField(choices=ExceptionStatus.choices)
    business_date = serializers.DateField()
    card_no = serializers.CharField()
    terminal_id = serializers.CharField()
    records = serializers.ListField(child=serializers.DictField(),
                                    help_text="the records concerned: {terminal_id, terminal_seq}")
    detail = serializers.DictField(help_text="what the rule found; keys depend on the code")
    raised_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField()


class ExceptionListView(StaffAPIView):
    area = Area.EXCEPTIONS
    pagination_class = Pagination

    class Query(QuerySerializer):
        status = serializers.ChoiceField(choices=ExceptionStatus.choices, required=False)
        code = serializers.ChoiceField(choices=ExceptionCode.choices, required=False)
        date = serializers.DateField(required=False, help_text="the business day, YYYY-MM-DD")

    @extend_schema(tags=TAG, parameters=[Query],
                   responses={200: ExceptionOutput(many=True), **error_responses(query=True)},
                   summary="Exceptions, newest first")
    def get(self, request: Request) -> Response:
        query = query_params(self.Query, request)
        found = exception_list(status=query.get("status"), code=query.get("code"),
                               business_date=query.get("date"))
        return paginated(view=self, request=request, queryset=found,
                         serializer_class=ExceptionOutput)


class ExceptionResolveView(StaffAPIView):
    area = Area.EXCEPTIONS

    class Input(InputSerializer):
        action = serializers.ChoiceField(choices=list(RESOLVE_ACTIONS))
        note = serializers.CharField(max_length=2000)
        amount = StrictIntegerField(required=False, min_value=-1_000_000, max_value=1_000_000,
                                    help_text="adjust: fen onto the card's purse (negative "
                                              "takes off)")
        purse = serializers.ChoiceField(choices=Purse.choices, required=False,
                                        default=Purse.MAIN)

        class Meta:
            ref_name = "ExceptionResolve"

    class Output(ExceptionOutput):
        awaiting_approval = serializers.BooleanField(
            required=False, help_text="202 only: the adjustment is above the threshold and "
                                      "waits for a second finance user to approve it")

        class Meta:
            ref_name = "ExceptionResolved"

    @extend_schema(
        tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: ExceptionOutput, 202: Output, **error_responses(
            {400: ("invalid_amount", "balance_limit_exceeded", "insufficient_funds"),
             404: ("not_found",),
             409: ("invalid_status", "nothing_to_adjust", "second_approver_required",
                   "proposal_differs")}, body=True, idempotent=True)},
        summary="Close an exception with a note (none, adjust or write_off)",
        description="`adjust` posts a correction to the card's purse through suspense; "
                    "above the approval threshold the first call proposes it (202) and "
                    "another finance user approves it by repeating the amount and purse.",
    )
    @idempotent
    def post(self, request: Request, exception_id: str) -> Response:
        exc = exception_get(int(exception_id))
        data = validated(self.Input, request.data)
        done = exception_resolve(exception=exc, by=request.user, **data)
        if done.awaiting_approval:
            return Response(self.Output({**ExceptionOutput(done.exception).data,
                                         "awaiting_approval": True}).data,
                            status=status.HTTP_202_ACCEPTED)
        return Response(ExceptionOutput(done.exception).data)


class RunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    business_date = serializers.DateField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    raised = serializers.DictField(child=serializers.IntegerField(),
                                   help_text="exceptions raised, by code")
    ledger_breaches = serializers.ListField(child=serializers.DictField())

    class Meta:
        ref_name = "ReconciliationRun"


class ReconciliationRunView(StaffAPIView):
    """Finance starts the reconciliation of a day on demand (the nightly job does
    yesterday); running a day again raises nothing twice."""

    area = Area.EXCEPTIONS
    pagination_class = Pagination

    class Input(InputSerializer):
        date = serializers.DateField(help_text="the business day to reconcile")

        class Meta:
            ref_name = "ReconciliationRunStart"

    @extend_schema(tags=TAG, responses={200: RunOutput(many=True), **error_responses(query=True)},
                   summary="Reconciliation runs, the latest first")
    def get(self, request: Request) -> Response:
        return paginated(view=self, request=request, queryset=reconciliation_run_list(),
                         serializer_class=RunOutput)

    @extend_schema(tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: RunOutput, **error_responses(body=True, idempotent=True)},
                   summary="Reconcile a business day now")
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        run = reconcile_day(business_date=data["date"], by=request.user)
        return Response(RunOutput(run).data, status=status.HTTP_201_CREATED)
