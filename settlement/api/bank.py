"""The bank's gateway reports transfers (圈存); finance uploads the bank's statement
(operations-api.md, "Bank transfers")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.serializers import PendingLoadOutput
from core.api.serializers import InputSerializer, StrictIntegerField
from core.api.views import StaffAPIView, error_responses, validated
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.permissions import Area
from settlement.bank import (
    bank_statement_import,
    bank_transfer_record,
    parse_bank_ts,
    parse_statement,
)

TAG = ["bank"]
MAX_STATEMENT_BYTES = 20 * 2**20


class BankTransferView(StaffAPIView):
    area = Area.BANK_TRANSFERS

    class Input(InputSerializer):
        bank_ref = serializers.RegexField(r"^\S+$", max_length=64)
        cardholder = serializers.CharField(max_length=32)
        amount = StrictIntegerField(help_text="fen, more than 0")
        ts = serializers.CharField(max_length=64,
                                   help_text="ISO 8601 date and time with its UTC offset")

        class Meta:
            ref_name = "BankTransfer"

        def validate_ts(self, value: str) -> dt.datetime:
            try:
                return parse_bank_ts(value)
            except ValueError as exc:
                raise serializers.ValidationError(str(exc)) from None

    class Output(serializers.Serializer):
        bank_ref = serializers.CharField()
        cardholder = serializers.CharField(source="cardholder_number")
        amount = serializers.IntegerField()
        ts = serializers.DateTimeField()
        received_at = serializers.DateTimeField()
        card_no = serializers.CharField(source="load.card.card_no")
        load = PendingLoadOutput()

        class Meta:
            ref_name = "BankTransferResult"

    @extend_schema(
        tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: Output, 201: Output, **error_responses(
            {400: ("invalid_amount", "unknown_cardholder", "balance_limit_exceeded"),
             409: ("bank_ref_conflict", "no_card_in_use")}, body=True, idempotent=True)},
        summary="Report a transfer; the holder's purse is credited as a pending load",
        description="The same `bank_ref` with the same content again answers 200 with the "
                    "first transfer and its load, and changes nothing.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        transfer, load, created = bank_transfer_record(
            bank_ref=data["bank_ref"], cardholder_number=data["cardholder"],
            amount=data["amount"], ts=data["ts"], by=request.user)
        transfer.load = load  # type: ignore[attr-defined]
        return Response(self.Output(transfer).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class BankStatementView(StaffAPIView):
    """The bank's statement, CSV with header `bank_ref,cardholder,amount,ts`. Every line
    valid, or nothing is stored (400 `invalid_statement` lists the lines)."""

    area = Area.BANK_STATEMENTS
    parser_classes = [MultiPartParser]

    class Input(InputSerializer):
        file = serializers.FileField(max_length=255, allow_empty_file=False,
                                     help_text=f"at most {MAX_STATEMENT_BYTES // 2**20} MiB")

        class Meta:
            ref_name = "BankStatementUpload"

        def validate_file(self, upload: Any) -> Any:
            if upload.size > MAX_STATEMENT_BYTES:
                raise serializers.ValidationError(
                    _("The file is larger than %(mib)d MiB.")
                    % {"mib": MAX_STATEMENT_BYTES // 2**20})
            return upload

    class Output(serializers.Serializer):
        filename = serializers.CharField()
        lines = serializers.IntegerField()
        stored = serializers.IntegerField()
        skipped = serializers.IntegerField(help_text="already stored with the same content")
        matched = serializers.IntegerField(help_text="lines the gateway also reported")
        bank_only = serializers.ListField(child=serializers.CharField())
        onecard_only = serializers.ListField(child=serializers.CharField())
        resolved = serializers.ListField(child=serializers.CharField())

        class Meta:
            ref_name = "BankStatementSummary"

    @extend_schema(
        tags=TAG, request={"multipart/form-data": Input}, parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: Output, **error_responses({400: ("invalid_statement",)}, body=True,
                                                  idempotent=True)},
        summary="Upload the bank's statement and match it against the reported transfers",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        upload = validated(self.Input, request.data)["file"]
        rows = parse_statement(upload.read())
        summary = bank_statement_import(rows=rows, filename=upload.name, by=request.user)
        return Response(self.Output(summary.as_dict()).data)
