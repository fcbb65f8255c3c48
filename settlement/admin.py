"""Finance records in the console: read-only; changes go through the API's services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from settlement.models import (
    BankStatementLine,
    BankTransfer,
    CardReading,
    ClerkShift,
    MerchantSettlement,
    PurchaseRefund,
    ReconciliationRun,
    ReconException,
)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReconException)
class ReconExceptionAdmin(ReadOnly):
    list_display = ("id", "code", "status", "business_date", "card_no", "terminal_id",
                    "raised_at")
    list_filter = ("status", "code", "business_date")
    search_fields = ("card_no", "terminal_id", "key")


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnly):
    list_display = ("business_date", "started_at", "finished_at", "raised")


@admin.register(MerchantSettlement)
class MerchantSettlementAdmin(ReadOnly):
    list_display = ("business_date", "merchant", "count", "gross", "fee", "net")
    list_filter = ("business_date", "merchant")


@admin.register(BankTransfer)
class BankTransferAdmin(ReadOnly):
    list_display = ("bank_ref", "cardholder_number", "amount", "ts", "load_id")
    search_fields = ("bank_ref", "cardholder_number")


@admin.register(BankStatementLine)
class BankStatementLineAdmin(ReadOnly):
    list_display = ("bank_ref", "cardholder_number", "amount", "ts", "statement")
    search_fields = ("bank_ref", "cardholder_number")


@admin.register(ClerkShift)
class ClerkShiftAdmin(ReadOnly):
    list_display = ("clerk", "opened_at", "closed_at", "expected", "counted", "difference")
    list_filter = ("clerk",)


@admin.register(PurchaseRefund)
class PurchaseRefundAdmin(ReadOnly):
    list_display = ("terminal_id", "terminal_seq", "card_no", "amount", "reason", "created_at")
    search_fields = ("card_no", "terminal_id")


@admin.register(CardReading)
class CardReadingAdmin(ReadOnly):
    list_display = ("id", "card_no", "purpose", "card_seq", "main", "subsidy",
                    "recorded_card_seq", "recorded_main", "recorded_subsidy", "read_at")
    list_filter = ("purpose",)
    search_fields = ("card_no",)
