"""Serializers shared by several views: the strict input base, and the output shapes of
cardholders, cards, postings and errors (operations-api.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import PURSE_ACCOUNT_KIND, Card, Posting, Purse
from accounts.selectors import card_balances, card_pending_loads, purse_balances

_PURSE_OF_KIND: dict[str, str] = {kind: purse for purse, kind in PURSE_ACCOUNT_KIND.items()}


# --- Balances, loads, cards -------------------------------------------------------------


class PurseBalanceOutput(serializers.Serializer):
    account = serializers.IntegerField(help_text="the holder's ledger balance for the purse")
    card = serializers.IntegerField(help_text="what the accepted records say is on this card")
    pending = serializers.IntegerField(help_text="loads not yet written to the card")


class BalancesOutput(serializers.Serializer):
    main = PurseBalanceOutput()
    subsidy = PurseBalanceOutput()


class PendingLoadOutput(serializers.Serializer):
    load_id = serializers.CharField()
    purse = serializers.CharField()
    amount = serializers.IntegerField()
    source = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.source
    method = serializers.CharField()
    reference = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()


class CardSummaryOutput(serializers.Serializer):
    card_no = serializers.CharField()
    uid = serializers.CharField()
    status = serializers.CharField()
    cardholder = serializers.CharField(source="cardholder.number")
    blacklisted = serializers.BooleanField()
    key_version = serializers.IntegerField()
    deposit = serializers.IntegerField()
    issued_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)


class CardOutput(CardSummaryOutput):
    card_seq = serializers.IntegerField()
    suspected_clone = serializers.BooleanField()
    balances = serializers.SerializerMethodField()
    pending_loads = serializers.SerializerMethodField()
    replaced_by = serializers.CharField(source="replaced_by.card_no", allow_null=True)
    replaces = serializers.CharField(source="replaces.card_no", allow_null=True)

    @extend_schema_field(BalancesOutput)
    def get_balances(self, card: Card) -> dict[str, dict[str, int]]:
        return card_balances(card)

    @extend_schema_field(PendingLoadOutput(many=True))
    def get_pending_loads(self, card: Card) -> Any:
        return PendingLoadOutput(card_pending_loads(card), many=True).data


# --- Cardholders ------------------------------------------------------------------------


class CardholderOutput(serializers.Serializer):
    number = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    department = serializers.CharField(source="org_unit.code", allow_null=True)
    status = serializers.CharField()
    valid_until = serializers.DateField(allow_null=True)
    phone = serializers.CharField()
    email = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PurseAmountsOutput(serializers.Serializer):
    main = serializers.IntegerField()
    subsidy = serializers.IntegerField()


class CardholderDetailOutput(CardholderOutput):
    balances = serializers.SerializerMethodField()
    cards = CardSummaryOutput(many=True)

    @extend_schema_field(PurseAmountsOutput)
    def get_balances(self, holder: Any) -> dict[str, int]:
        return purse_balances(holder)


# --- Postings ---------------------------------------------------------------------------


class PostingOutput(serializers.Serializer):
    """A ledger posting as the card's holder sees it; `amounts` are the changes of this
    holder's purses (positive: money in)."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    at = serializers.DateTimeField(source="created_at")
    memo = serializers.CharField()
    amounts = serializers.SerializerMethodField()

    @extend_schema_field(PurseAmountsOutput)
    def get_amounts(self, posting: Posting) -> dict[str, int]:
        holder_id = self.context["cardholder_id"]
        amounts = {p.value: 0 for p in Purse}
        for entry in posting.entries.all():
            purse = _PURSE_OF_KIND.get(entry.account.kind)
            if purse is not None and entry.account.cardholder_id == holder_id:
                amounts[purse] += entry.amount
        return amounts


class EntryOutput(serializers.Serializer):
    account = serializers.CharField(source="account.code")
    kind = serializers.CharField(source="account.kind")
    amount = serializers.IntegerField()


class StaffPostingOutput(PostingOutput):
    entries = EntryOutput(many=True)


