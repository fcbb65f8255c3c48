"""Card readings from the issuing station: `POST /api/v1/cards/{card_no}/readings` (the
card office reports what GET STATUS said), `GET` lists them, newest first."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.selectors import card_get
from core.api.serializers import InputSerializer, StrictIntegerField
from core.api.views import StaffAPIView, error_responses, paginated, validated
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.pagination import Pagination
from core.permissions import Area
from settlement.models import ReadingPurpose
from settlement.readings import card_reading_record
from settlement.selectors import card_reading_list

U32 = 0xFFFFFFFF


class ReadingOutput(serializers.Serializer):
    id = serializers.IntegerField()
    card_no = serializers.CharField()
    purpose = serializers.ChoiceField(choices=ReadingPurpose.choices)
    card_seq = serializers.IntegerField(help_text="on the card")
    main = serializers.IntegerField(help_text="fen on the card")
    subsidy = serializers.IntegerField(help_text="fen on the card")
    key_version = serializers.IntegerField()
    recorded_card_seq = serializers.IntegerField(help_text="by the accepted records")
    recorded_main = serializers.IntegerField(help_text="by the accepted records")
    recorded_subsidy = serializers.IntegerField(help_text="by the accepted records")
    differences = serializers.DictField(child=serializers.IntegerField(),
                                        help_text="on the card minus by the records")
    exception = serializers.IntegerField(source="exception_id", allow_null=True,
                                         help_text="the card_reading_mismatch raised")
    read_at = serializers.DateTimeField()
    read_by = serializers.CharField(source="read_by.username")

    class Meta:
        ref_name = "CardReading"


class CardReadingListView(StaffAPIView):
    area = Area.CARDS
    pagination_class = Pagination

    class Input(InputSerializer):
        purpose = serializers.ChoiceField(choices=ReadingPurpose.choices)
        card_seq = StrictIntegerField(min_value=0, max_value=U32)
        main = StrictIntegerField(min_value=0, max_value=U32, help_text="fen")
        subsidy = StrictIntegerField(min_value=0, max_value=U32, help_text="fen")
        key_version = StrictIntegerField(min_value=1, max_value=255)

        class Meta:
            ref_name = "CardReadingInput"

    @extend_schema(tags=["cards"], responses={200: ReadingOutput(many=True), **error_responses(
        {404: ("not_found",)}, query=True)}, summary="The card's readings, newest first")
    def get(self, request: Request, card_no: str) -> Response:
        card = card_get(card_no)
        return paginated(view=self, request=request, queryset=card_reading_list(card),
                         serializer_class=ReadingOutput)

    @extend_schema(
        tags=["cards"], request=Input, parameters=[IDEMPOTENCY_PARAMETER],
        summary="What the card in the holder's hand says; a difference opens an exception",
        responses={201: ReadingOutput, **error_responses(
            {400: ("invalid_request",), 404: ("not_found",), 409: ("invalid_status",)},
            body=True, idempotent=True)},
    )
    @idempotent
    def post(self, request: Request, card_no: str) -> Response:
        card = card_get(card_no)
        data = validated(self.Input, request.data)
        reading = card_reading_record(card=card, by=request.user, **data)
        return Response(ReadingOutput(reading).data, status=status.HTTP_201_CREATED)
