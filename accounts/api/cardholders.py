"""Cardholders: create, search, read, change, import, portal password (card office)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.api.filters import CardholderFilter
from accounts.api.serializers import CardholderDetailOutput, CardholderOutput
from accounts.importing import read_cardholder_rows
from accounts.models import Cardholder, CardholderKind, CardholderStatus
from accounts.selectors import cardholder_get
from core.api.serializers import InputSerializer
from core.api.views import StaffAPIView, error_responses, filtered, paginated, validated
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.pagination import Pagination
from core.permissions import Area

TAG = ["cardholders"]
MAX_IMPORT_BYTES = 20 * 2**20  # a university's whole roll is a few MiB


def password_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        write_only=True, trim_whitespace=False, max_length=128,
        validators=[password_validation.validate_password], **kwargs,
    )


class CardholderListView(StaffAPIView):
    area = Area.CARDHOLDERS
    queryset = Cardholder.objects.none()  # tells the schema which model the filters use
    filter_backends = [DjangoFilterBackend]
    filterset_class = CardholderFilter
    pagination_class = Pagination

    class Input(InputSerializer):
        number = serializers.RegexField(r"^[^/\s]+$", max_length=32)
        name = serializers.CharField(max_length=100)
        kind = serializers.ChoiceField(choices=CardholderKind.choices)
        department = serializers.CharField(max_length=32, required=False, allow_null=True,
                                           allow_blank=True, help_text="org unit code")
        valid_until = serializers.DateField(required=False, allow_null=True)
        phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
        email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
        password = password_field(required=False, help_text="the portal password")

        class Meta:
            ref_name = "CardholderCreate"

    @extend_schema(tags=TAG, responses={200: CardholderOutput(many=True),
                                        **error_responses({400: ("invalid_request",)})})
    def get(self, request: Request) -> Response:
        holders = filtered(view=self, request=request,
                           queryset=Cardholder.objects.select_related("org_unit"))
        return paginated(view=self, request=request, queryset=holders,
                         serializer_class=CardholderOutput)

    @extend_schema(
        tags=TAG, request=Input, parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: CardholderDetailOutput,
                   **error_responses({409: ("duplicate_number",)}, body=True, idempotent=True)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(self.Input, request.data)
        holder = services.cardholder_create(by=request.user, **data)
        return Response(CardholderDetailOutput(holder).data, status=status.HTTP_201_CREATED)


class CardholderDetailView(StaffAPIView):
    area = Area.CARDHOLDERS

    class Input(InputSerializer):
        name = serializers.CharField(max_length=100, required=False)
        kind = serializers.ChoiceField(choices=CardholderKind.choices, required=False)
        department = serializers.CharField(max_length=32, required=False, allow_null=True,
                                           allow_blank=True, help_text="org unit code")
        status = serializers.ChoiceField(choices=CardholderStatus.choices, required=False)
        valid_until = serializers.DateField(required=False, allow_null=True)
        phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
        email = serializers.EmailField(max_length=254, required=False, allow_blank=True)

        class Meta:
            ref_name = "CardholderUpdate"

    @extend_schema(tags=TAG, responses={200: CardholderDetailOutput,
                                        **error_responses({404: ("not_found",)})})
    def get(self, request: Request, number: str) -> Response:
        return Response(CardholderDetailOutput(cardholder_get(number)).data)

    @extend_schema(tags=TAG, request=Input,
                   responses={200: CardholderDetailOutput,
                              **error_responses({404: ("not_found",)}, body=True)})
    def patch(self, request: Request, number: str) -> Response:
        holder = cardholder_get(number)
        data = validated(self.Input, request.data)
        holder = services.cardholder_update(cardholder=holder, by=request.user, **data)
        return Response(CardholderDetailOutput(holder).data)


class CardholderImportView(StaffAPIView):
    """A CSV or XLSX file with a header line: number, name, kind, department, valid_until,
    phone, email. Every line valid, or nothing changes (400 `import_failed` lists them)."""

    area = Area.CARDHOLDERS
    parser_classes = [MultiPartParser]

    class Input(InputSerializer):
        file = serializers.FileField(max_length=255, allow_empty_file=False,
                                     help_text=f"at most {MAX_IMPORT_BYTES // 2**20} MiB")

        class Meta:
            ref_name = "CardholderImport"

        def validate_file(self, upload: Any) -> Any:
            if upload.size > MAX_IMPORT_BYTES:
                raise serializers.ValidationError(
                    _("The file is larger than %(mib)d MiB.") % {"mib": MAX_IMPORT_BYTES // 2**20}
                )
            return upload

    class Output(serializers.Serializer):
        created = serializers.IntegerField()
        updated = serializers.IntegerField()
        unchanged = serializers.IntegerField()

        class Meta:
            ref_name = "CardholderImportSummary"

    @extend_schema(
        tags=TAG, request={"multipart/form-data": Input}, parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: Output, **error_responses({400: ("import_failed",)}, body=True,
                                                  idempotent=True)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        upload = validated(self.Input, request.data)["file"]
        rows = read_cardholder_rows(upload, upload.name)
        summary = services.cardholder_import(rows=rows, by=request.user)
        return Response(self.Output(summary).data)


class CardholderPasswordView(StaffAPIView):
    """The card office sets (or resets) a cardholder's portal password. No Idempotency-Key:
    the body holds the password, which the server keeps nowhere but in the holder's hash;
    setting the same password again is harmless."""

    area = Area.CARDHOLDERS

    class Input(InputSerializer):
        password = password_field()

        class Meta:
            ref_name = "CardholderPassword"

    @extend_schema(
        tags=TAG, request=Input,
        responses={204: OpenApiResponse(description="password set"),
                   **error_responses({404: ("not_found",)}, body=True)},
    )
    def post(self, request: Request, number: str) -> Response:
        holder = cardholder_get(number)
        data = validated(self.Input, request.data)
        services.cardholder_set_password(cardholder=holder, password=data["password"],
                                         by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
