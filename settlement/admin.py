"""Finance records in the console: read-only; changes go through the API's services."""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin
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


@admin.register(ReconException)
class ReconExceptionAdmin(ReadOnlyAdmin):
    list_display = ("id", "code", "status", "business_date", "card_no", "terminal_id",
                    "raised_at")
    list_filter = ("status", "code", "business_date")
    search_fields = ("card_no", "terminal_id", "key")


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ("business_date", "started_at", "finished_at", "raised")


@admin.register(MerchantSettlement)
class MerchantSettlementAdmin(ReadOnlyAdmin):
    list_display = ("business_date", "merchant", "count", "gross", "fee", "net")
    list_filter = ("business_date", "merchant")


@admin.register(BankTransfer)
class BankTransferAdmin(ReadOnlyAdmin):
    list_display = ("bank_ref", "cardholder_number", "amount", "ts", "load_id")
    search_fields = ("bank_ref", "cardholder_number")


@admin.register(BankStatementLine)
class BankStatementLineAdmin(ReadOnlyAdmin):
    list_display = ("bank_ref", "cardholder_number", "amount", "ts", "statement")
    search_fields = ("bank_ref", "cardholder_number")


@admin.register(ClerkShift)
class ClerkShiftAdmin(ReadOnlyAdmin):
    list_display = ("clerk", "opened_at", "closed_at", "expected", "counted", "difference")
    list_filter = ("clerk",)


@admin.register(PurchaseRefund)
class PurchaseRefundAdmin(ReadOnlyAdmin):
    list_display = ("terminal_id", "terminal_seq", "card_no", "amount", "reason", "created_at")
    search_fields = ("card_no", "terminal_id")


@admin.register(CardReading)
class CardReadingAdmin(ReadOnlyAdmin):
    list_display = ("id", "card_no", "purpose", "card_seq", "main", "subsidy",
                    "recorded_card_seq", "recorded_main", "recorded_subsidy", "read_at")
    list_filter = ("purpose",)
    search_fields = ("card_no",)
