"""Subsidy batches (finance and card office) and merchants (finance and admin)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.models import Merchant, Purse, SubsidyBatch
from core.api.serializers import InputSerializer, StrictIntegerField
from core.api.views import StaffAPIView, error_responses, paginated, validated
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.pagination import Pagination
from core.permissions import Area

MAX_BATCH_ENTRIES = 100_000


class SubsidyBatchOutput(serializers.Serializer):
    batch_id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    purse = serializers.CharField()
    count = serializers.IntegerField()
    total = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True)


class SubsidyGrantOutput(SubsidyBatchOutput):
    created = serializers.BooleanField(
        help_text="false when this same batch (name, purse, entries) was granted before"
    )


class SubsidyEntryInput(InputSerializer):
    cardholder = serializers.CharField(max_length=32, help_text="the cardholder's number")
    amount = StrictIntegerField(help_text="fen, more than 0")

    class Meta:
        ref_name = "SubsidyEntry"


class SubsidyListView(StaffAPIView):
    area = Area.SUBSIDIES
    pagination_class = Pagination

    class Input(InputSerializer):
        name = serializers.CharField(max_length=200)
        purse = serializers.ChoiceField(choices=Purse.choices)
        entries: serializers.ListSerializer[Any] = serializers.ListSerializer(
            child=SubsidyEntryInput(), allow_empty=False, max_length=MAX_BATCH_ENTRIES
        )

        class Meta:
            ref_name = "SubsidyBatch"

    @extend_schema(tags=["subsidies"], responses={200: SubsidyBatchOutput(many=True),
                                                  **error_responses(query=True)})
    def get(self, request: Request) -> Response:
        batches: QuerySet[SubsidyBatch] = SubsidyBatch.objects.select_related("created_by")
        return paginated(view=self, request=request,
                         queryset=batches.order_by("-created_at", "-id"),
                         serializer_class=SubsidyBatchOutput)

    @extend_schema(
        tags=["subsidies"], request=Input, parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: SubsidyGrantOutput, 200: SubsidyGrantOutput, **error_responses(
            {400: ("invalid_amount", "unknown_cardholders", "cardholders_without_card",
                   "balance_limit_exceeded")}, body=True, idempotent=True)},
        description="Each entry becomes a pending load on the holder's card in use. All or "
                    "nothing: unknown holders, or holders without a card, refuse the batch "
                    "(the error lists them in `cardholders`). The same batch again answers "
                    "200 with the first batch and changes nothing.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        result = services.subsidy_batch_create(by=request.user, **data)
        body = {**SubsidyBatchOutput(result.batch).data, "created": result.created}
        return Response(body,
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class MerchantOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    fee_rate_bp = serializers.IntegerField()
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class MerchantListView(StaffAPIView):
    area = Area.MERCHANTS
    pagination_class = Pagination

    class Input(InputSerializer):
        code = serializers.RegexField(r"^[^/\s]+$", max_length=32)
        name = serializers.CharField(max_length=100)
        fee_rate_bp = StrictIntegerField(help_text="fee in basis points of gross, 0 to 10000")

        class Meta:
            ref_name = "MerchantCreate"

    @extend_schema(tags=["merchants"], responses={200: MerchantOutput(many=True),
                                                  **error_responses(query=True)})
    def get(self, request: Request) -> Response:
        return paginated(view=self, request=request, queryset=Merchant.objects.order_by("code"),
                         serializer_class=MerchantOutput)

    @extend_schema(tags=["merchants"], request=Input, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: MerchantOutput, **error_responses(
                       {409: ("duplicate_code",)}, body=True, idempotent=True)})
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        merchant = services.merchant_create(by=request.user, **data)
        return Response(MerchantOutput(merchant).data, status=status.HTTP_201_CREATED)
