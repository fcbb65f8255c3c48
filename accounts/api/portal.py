"""The cardholder portal under /api/v1/me: a holder sees and acts on their own cards
only; anybody else's card answers 404."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db import IntegrityError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.authentication import portal_username
from accounts.api.cards import EmptyInput
from accounts.api.common import (
    HISTORY_DESCRIPTION,
    HISTORY_PARAMETERS,
    CardHistoryOutput,
    PortalAPIView,
    card_history,
)
from accounts.api.serializers import CardholderDetailOutput, CardOutput
from accounts.errors import InvalidCredentials
from accounts.selectors import card_get, cardholder_for_user
from core.api.serializers import InputSerializer
from core.api.views import JSONBodyParser, error_responses, validated
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent

TAG = ["portal"]
PORTAL_CHANNEL = "portal"


class PortalLoginView(APIView):
    """Number and password in, a token out (send it as `Authorization: Token <key>`)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    parser_classes = [JSONBodyParser]

    class Input(InputSerializer):
        number = serializers.CharField(max_length=32)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

        class Meta:
            ref_name = "PortalLogin"

    class Output(serializers.Serializer):
        token = serializers.CharField()

        class Meta:
            ref_name = "PortalToken"

    @extend_schema(tags=TAG, request=Input, auth=[],
                   responses={200: Output, **error_responses(
                       {401: ("invalid_credentials",)}, body=True, authenticated=False)})
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        user = authenticate(request._request, username=portal_username(data["number"]),
                            password=data["password"])
        if user is None or cardholder_for_user(user) is None:
            raise InvalidCredentials()
        try:
            token, _created = Token.objects.get_or_create(user=user)
        except IntegrityError:  # the same holder logging in twice at once
            token = Token.objects.get(user=user)
        return Response(self.Output({"token": token.key}).data)


class MeView(PortalAPIView):
    @extend_schema(tags=TAG, responses={200: CardholderDetailOutput, **error_responses()})
    def get(self, request: Request) -> Response:
        return Response(CardholderDetailOutput(self.holder).data)


class MeCardListView(PortalAPIView):
    @extend_schema(tags=TAG, responses={200: CardOutput(many=True), **error_responses()})
    def get(self, request: Request) -> Response:
        return Response(CardOutput(self.holder.cards.all(), many=True).data)


class MeCardDetailView(PortalAPIView):
    @extend_schema(tags=TAG, responses={200: CardOutput, **error_responses({404: ("not_found",)})})
    def get(self, request: Request, card_no: str) -> Response:
        return Response(CardOutput(card_get(card_no, cardholder=self.holder)).data)


class MeCardTransactionsView(PortalAPIView):
    """The holder's own card: its postings and every accepted record of it, door and
    punch records too."""

    @extend_schema(tags=TAG, parameters=HISTORY_PARAMETERS, description=HISTORY_DESCRIPTION,
                   responses={200: CardHistoryOutput, **error_responses(
                       {404: ("not_found",)}, query=True)})
    def get(self, request: Request, card_no: str) -> Response:
        return card_history(request=request, output=CardHistoryOutput, types=None,
                            card=card_get(card_no, cardholder=self.holder))


class MeCardReportLossView(PortalAPIView):
    @extend_schema(tags=TAG, request=EmptyInput, parameters=[IDEMPOTENCY_PARAMETER],
                   responses={200: CardOutput, **error_responses(
                       {404: ("not_found",), 409: ("invalid_status",)}, body=True,
                       idempotent=True)})
    @idempotent
    def post(self, request: Request, card_no: str) -> Response:
        card = card_get(card_no, cardholder=self.holder)
        validated(EmptyInput, request.data)
        card = services.card_report_loss(card=card, by=request.user, channel=PORTAL_CHANNEL)
        return Response(CardOutput(card).data)
