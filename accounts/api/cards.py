"""Cards: issue, list, read, personalise, history, and the card office's actions."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.api.common import (
    HISTORY_DESCRIPTION,
    HISTORY_PARAMETERS,
    StaffCardHistoryOutput,
    card_history,
)
from accounts.api.filters import CardFilter
from accounts.api.serializers import BalancesOutput, CardOutput, CardSummaryOutput
from accounts.errors import UnknownCardholder
from accounts.hooks import PURSE_RECORD_TYPES
from accounts.models import Card, Purse, TopUpMethod
from accounts.personalization import card_personalization_get
from accounts.selectors import card_balances, card_get, cardholder_get
from core.api.serializers import InputSerializer, StrictIntegerField
from core.api.views import StaffAPIView, error_responses, filtered, paginated, validated
from core.errors import NotFound
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.pagination import Pagination
from core.permissions import Area

TAG = ["cards"]

AMOUNT_ERRORS = ("invalid_amount", "balance_limit_exceeded")


class CardListView(StaffAPIView):
    area = Area.CARDS
    queryset = Card.objects.none()  # tells the schema which model the filters use
    filter_backends = [DjangoFilterBackend]
    filterset_class = CardFilter
    pagination_class = Pagination

    class Input(InputSerializer):
        cardholder = serializers.CharField(max_length=32, help_text="the cardholder's number")
        uid = serializers.CharField(max_length=40, help_text="4 to 10 bytes, hex")
        deposit = StrictIntegerField(required=False, default=0, help_text="fen, 0 or more")
        deposit_method = serializers.ChoiceField(choices=TopUpMethod.choices, required=False,
                                                 default=TopUpMethod.CASH)

        class Meta:
            ref_name = "CardIssue"

    @extend_schema(tags=TAG, responses={200: CardSummaryOutput(many=True),
                                        **error_responses({400: ("invalid_request",)})})
    def get(self, request: Request) -> Response:
        cards: QuerySet[Card] = Card.objects.select_related("cardholder")
        return paginated(view=self, request=request,
                         queryset=filtered(view=self, request=request, queryset=cards),
                         serializer_class=CardSummaryOutput)

    @extend_schema(
        tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: CardOutput, **error_responses(
            {400: ("unknown_cardholder", "invalid_amount"),
             409: ("active_card_exists", "uid_in_use", "invalid_status")},
            body=True, idempotent=True)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        try:
            holder = cardholder_get(data.pop("cardholder"))
        except NotFound as exc:
            raise UnknownCardholder(str(exc)) from exc
        card = services.card_issue(cardholder=holder, by=request.user, **data)
        return Response(CardOutput(card).data, status=status.HTTP_201_CREATED)


class CardDetailView(StaffAPIView):
    area = Area.CARDS

    @extend_schema(tags=TAG, responses={200: CardOutput, **error_responses({404: ("not_found",)})})
    def get(self, request: Request, card_no: str) -> Response:
        return Response(CardOutput(card_get(card_no)).data)


class CardPersonalizationView(StaffAPIView):
    """What the issuing station writes to the card; every read is audited."""

    area = Area.PERSONALIZATION

    class Output(serializers.Serializer):
        card_no = serializers.CharField()
        uid = serializers.CharField()
        key_version = serializers.IntegerField()
        card_key = serializers.CharField(help_text="the diversified card key, 32 hex characters")

        class Meta:
            ref_name = "CardPersonalization"

    @extend_schema(tags=TAG, responses={200: Output, **error_responses(
        {404: ("not_found",), 409: ("unknown_key_version",), 503: ("keys_unavailable",)})})
    def get(self, request: Request, card_no: str) -> Response:
        found = card_personalization_get(card=card_get(card_no), by=request.user)
        return Response(self.Output(found.as_dict()).data)


class CardTransactionsView(StaffAPIView):
    """The card's ledger postings and its accepted purchase and load records (its money
    history; door and punch records are the holder's movements, not the card office's)."""

    area = Area.CARDS

    @extend_schema(tags=TAG, parameters=HISTORY_PARAMETERS, description=HISTORY_DESCRIPTION,
                   responses={200: StaffCardHistoryOutput, **error_responses(
                       {404: ("not_found",)}, query=True)})
    def get(self, request: Request, card_no: str) -> Response:
        return card_history(request=request, card=card_get(card_no),
                            output=StaffCardHistoryOutput, types=PURSE_RECORD_TYPES)


# --- Actions --------------------------------------------------------------------------------


class CardActionView(StaffAPIView):
    """A POST that changes one card; answers the card unless the action says otherwise."""

    area = Area.CARDS


def action_schema(request: Any, responses: dict[int, Any], *, errors: dict[int, Any] | None = None,
                  summary: str = "") -> Any:
    return extend_schema(
        tags=TAG, request=request, summary=summary or None, parameters=[IDEMPOTENCY_PARAMETER],
        responses={**responses, **error_responses(
            {404: ("not_found",), 409: ("invalid_status",), **(errors or {})},
            body=True, idempotent=True)},
    )


class CardTopUpView(CardActionView):
    class Input(InputSerializer):
        amount = StrictIntegerField(help_text="fen, more than 0")
        purse = serializers.ChoiceField(choices=Purse.choices, required=False, default=Purse.MAIN)
        method = serializers.ChoiceField(choices=TopUpMethod.choices)
        reference = serializers.CharField(max_length=128, required=False, allow_blank=True,
                                          default="")

        class Meta:
            ref_name = "CardTopUp"

    class Output(serializers.Serializer):
        load_id = serializers.CharField()
        card_no = serializers.CharField(source="card.card_no")
        purse = serializers.CharField()
        amount = serializers.IntegerField()
        method = serializers.CharField()
        reference = serializers.CharField()
        status = serializers.CharField()
        created_at = serializers.DateTimeField()
        balances = serializers.SerializerMethodField()

        class Meta:
            ref_name = "CardTopUpResult"

        @extend_schema_field(BalancesOutput)
        def get_balances(self, load: Any) -> dict[str, dict[str, int]]:
            return card_balances(load.card)

    @action_schema(Input, {201: Output}, errors={400: AMOUNT_ERRORS},
                   summary="Credit the purse now; the money reaches the card as a pending load")
    @idempotent
    def post(self, request: Request, card_no: str) -> Response:
        card = card_get(card_no)
        data = validated(self.Input, request.data)
        load = services.card_top_up(card=card, by=request.user, **data)
        return Response(self.Output(load).data, status=status.HTTP_201_CREATED)


class EmptyInput(InputSerializer):
    class Meta:
        ref_name = "Empty"


class CardReportLossView(CardActionView):
    @action_schema(EmptyInput, {200: CardOutput}, summary="Lost: onto the blacklist at once")
    @idempotent
    def post(self, request: Request, card_no: str) -> Response:
        card = card_get(card_no)
        validated(EmptyInput, request.data)
        card = services.card_report_loss(card=card, by=request.user)
        return Response(CardOutput(card).data)


class CardUnlockView(CardActionView):
    @action_schema(EmptyInput, {200: CardOutput}, summary="A lost card was found: active again")
    @idempotent
    def post(self, request: Request, card_no: str) -> Response:
        card = card_get(card_no)
        validated(EmptyInput, request.data)
        card = services.card_unlock(card=card, by=request.user)
        return Response(CardOutput(card).data)


class ReasonInput(InputSerializer):
    reason = serializers.CharField(max_length=255)

    class Meta:
        ref_name = "CardStatusReason"


class CardFreezeView(CardActionView):
    @action_schema(ReasonInput, {200: CardOutput}, summary="Frozen (blacklisted) until unfrozen")
    @idempotent
    def post(self, request: Request, card_no: str) -> Response:
        card = card_get(card_no)
        data = validated(ReasonInput, request.data)
        card = services.card_freeze(card=card, by=request.user, **data)
        return Response(CardOutput(card).data)


class CardUnfreezeView(CardActionView):
    @action_schema(ReasonInput, {200: CardOutput}, summary="Back to active")
    @idempotent
    def post(self, request: Request, card_no: str) -> Response:
        card = card_get(card_no)
        data = validated(ReasonInput, request.data)
        card = services.card_unfreeze(card=card, by=request.user, **data)
        return Response(CardOutput(card).data)


class CardReplaceView(CardActionView):
    class Input(InputSerializer):
        uid = serializers.CharField(max_length=40, help_text="the new card's UID, hex")

        class Meta:
            ref_name = "CardReplace"

    @action_schema(Input, {201: CardOutput}, errors={409: ("uid_in_use",)},
                   summary="A new card for the same holder; the old card's money follows it")
    @idempotent
    def post(self, request: Request, card_no: str) -> Response:
        card = card_get(card_no)
        data = validated(self.Input, request.data)
        new = services.card_replace(card=card, by=request.user, **data)
        return Response(CardOutput(new).data, status=status.HTTP_201_CREATED)


class CardCancelView(CardActionView):
    class Input(InputSerializer):
        refund_method = serializers.ChoiceField(
            choices=[(m.value, m.label) for m in (TopUpMethod.CASH, TopUpMethod.BANK)]
        )

        class Meta:
            ref_name = "CardCancel"

    class Output(serializers.Serializer):
        card_no = serializers.CharField()
        refund_method = serializers.CharField()
        main = serializers.IntegerField(help_text="main purse balance refunded")
        subsidy = serializers.IntegerField(help_text="subsidy purse balance refunded")
        subsidy_recovered = serializers.IntegerField(help_text="subsidy returned to the fund")
        deposit = serializers.IntegerField()
        fee = serializers.IntegerField(help_text="cancellation fee kept")
        total = serializers.IntegerField(help_text="paid out to the holder")
        voided_loads = serializers.ListField(child=serializers.CharField())
        card = CardOutput()

        class Meta:
            ref_name = "CardCancelRefund"

    @action_schema(Input, {200: Output},
                   summary="Close the card; refund the purses and the deposit, less the fee")
    @idempotent
    def post(self, request: Request, card_no: str) -> Response:
        card = card_get(card_no)
        data = validated(self.Input, request.data)
        refund = services.card_cancel(card=card, by=request.user, **data)
        return Response(self.Output({**refund.as_dict(), "card": card_get(card_no)}).data)
