"""Card readings from the issuing station: `POST /api/v1/cards/{card_no}/readings` (the
card office reports what GET STATUS said), `GET` lists them, newest first."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.selectors import card_get
from core.api.serializers import InputSerializer
from core.api.views import StaffAPIView, error_responses, validated
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.pagination import Pagination
from core.permissions import Area
from settlement.models import CardReading, ReadingPurpose
from settlement.readings import card_reading_record

U32 = 0xFFFFFFFF


class ReadingInput(InputSerializer):
    purpose = serializers.ChoiceField(choices=ReadingPurpose.choices)
    card_seq = serializers.IntegerField(min_value=0, max_value=U32)
    main = serializers.IntegerField(min_value=0, max_value=U32)
    subsidy = serializers.IntegerField(min_value=0, max_value=U32)
    key_version = serializers.IntegerField(min_value=1, max_value=255)

    class Meta:
        ref_name = "CardReadingInput"


class ReadingOutput(serializers.ModelSerializer):
    differences = serializers.DictField(child=serializers.IntegerField(), read_only=True,
                                        help_text="on the card minus by the records")
    read_by = serializers.CharField(source="read_by.username")

    class Meta:
        model = CardReading
        ref_name = "CardReading"
        fields = ["id", "card_no", "purpose", "card_seq", "main", "subsidy", "key_version",
                  "recorded_card_seq", "recorded_main", "recorded_subsidy", "differences",
                  "exception", "read_at", "read_by"]


class CardReadingListView(StaffAPIView):
    area = Area.CARDS

    @extend_schema(tags=["cards"], responses={200: ReadingOutput(many=True),
                                              **error_responses({404: ("not_found",)})})
    def get(self, request: Request, card_no: str) -> Response:
        card = card_get(card_no)
        page = Pagination()
        rows = page.paginate_queryset(CardReading.objects.filter(card_no=card.card_no)
                                      .select_related("read_by"), request, view=self)
        return page.get_paginated_response(ReadingOutput(rows, many=True).data)

    @extend_schema(
        tags=["cards"], request=ReadingInput, parameters=[IDEMPOTENCY_PARAMETER],
        summary="What the card in the holder's hand says; a difference opens an exception",
        responses={201: ReadingOutput, **error_responses(
            {400: ("invalid_request",), 404: ("not_found",), 409: ("invalid_status",)},
            body=True, idempotent=True)},
    )
    @idempotent
    def post(self, request: Request, card_no: str) -> Response:
        card = card_get(card_no)
        data = validated(ReadingInput, request.data)
        reading = card_reading_record(card=card, by=request.user, **data)
        return Response(ReadingOutput(reading).data, status=201)
