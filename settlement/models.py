"""Reconciliation runs and the exceptions they raise (terminal-protocol.md §7)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ExceptionCode(models.TextChoices):
    TERMINAL_SEQ_GAP = "terminal_seq_gap", _("Records missing from a terminal")
    CARD_SEQ_GAP = "card_seq_gap", _("A card's counter skips")
    CARD_SEQ_CONFLICT = "card_seq_conflict", _("Two records with one card counter (clone?)")
    BALANCE_CHAIN_BREAK = "balance_chain_break", _("Balance chain break")
    CARD_DB_IMBALANCE = "card_db_imbalance", _("Account differs from card plus pending")
    BLACKLISTED_CARD_USED = "blacklisted_card_used", _("Blacklisted card used")
    REPLACED_CARD_USED = "replaced_card_used", _("Replaced card used")
    CLOCK_SKEW = "clock_skew", _("Record time far from arrival")
    QUARANTINED_RECORD = "quarantined_record", _("Conflicting or rejected record")
    BANK_ONLY = "bank_only", _("Bank transfer missing in OneCard")
    ONECARD_ONLY = "onecard_only", _("Bank transfer missing at the bank")
    CARD_READING_MISMATCH = "card_reading_mismatch", _("Card read at the desk differs from records")


class ExceptionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")
    WRITTEN_OFF = "written_off", _("Written off")


class ReconciliationRun(models.Model):
    business_date = models.DateField(_("business date"), db_index=True)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    raised = models.JSONField(_("exceptions raised, by code"), default=dict)
    ledger_breaches = models.JSONField(_("ledger check breaches"), default=list)

    class Meta:
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.business_date} {self.started_at:%H:%M}"


class ReconException(models.Model):
    """One anomaly for a person to resolve. `key` names what it is about, so running the
    reconciliation again raises nothing twice."""

    key = models.CharField(max_length=200, unique=True)
    code = models.CharField(_("code"), max_length=32, choices=ExceptionCode.choices,
                            db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=ExceptionStatus.choices,
                              default=ExceptionStatus.OPEN, db_index=True)
    business_date = models.DateField(_("business date"), db_index=True)
    card_no = models.CharField(_("card number"), max_length=32, blank=True, default="")
    terminal_id = models.CharField(_("terminal id"), max_length=32, blank=True, default="")
    records = models.JSONField(_("records"), default=list, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    raised_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", verbose_name=_("resolved by"),
    )
    note = models.TextField(_("note"), blank=True, default="")
    # An adjustment above the approval threshold waits here for a second finance user.
    proposed = models.JSONField(_("proposed adjustment"), null=True, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", verbose_name=_("proposed by"),
    )

    class Meta:
        verbose_name = _("reconciliation exception")
        verbose_name_plural = _("reconciliation exceptions")
        ordering = ["-raised_at", "-id"]

    def __str__(self) -> str:
        return f"{self.code} {self.card_no or self.terminal_id}"


class MerchantSettlement(models.Model):
    """One merchant's business day: purchases counted, fee taken, net posted from the
    merchant payable to bank clearing."""

    merchant = models.ForeignKey("accounts.Merchant", on_delete=models.PROTECT,
                                 related_name="+", verbose_name=_("merchant"))
    business_date = models.DateField(_("business date"))
    count = models.PositiveIntegerField(_("purchases"))
    gross = models.BigIntegerField(_("gross (fen)"))
    fee = models.BigIntegerField(_("fee (fen)"))
    net = models.BigIntegerField(_("net (fen)"))
    fee_rate_bp = models.PositiveIntegerField(_("fee rate (basis points)"))
    posting_id = models.BigIntegerField(_("posting"), null=True, blank=True)
    created_at = models.DateTimeField(_("settled at"), auto_now_add=True)

    class Meta:
        verbose_name = _("merchant settlement")
        verbose_name_plural = _("merchant settlements")
        ordering = ["business_date", "merchant"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "business_date"],
                                    name="settlement_once_per_merchant_day"),
            models.CheckConstraint(condition=models.Q(net=models.F("gross") - models.F("fee")),
                                   name="settlement_net_is_gross_less_fee"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.business_date}"


class BankTransfer(models.Model):
    """A transfer the bank's gateway reported (圈存), idempotent by `bank_ref`."""

    bank_ref = models.CharField(_("bank reference"), max_length=64, unique=True)
    cardholder_number = models.CharField(_("cardholder number"), max_length=32)
    amount = models.BigIntegerField(_("amount (fen)"))
    ts = models.DateTimeField(_("bank time"))
    load_id = models.CharField(_("load id"), max_length=40, blank=True, default="")
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("bank transfer")
        verbose_name_plural = _("bank transfers")
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0),
                                              name="bank_transfer_amount_positive")]

    def __str__(self) -> str:
        return self.bank_ref


class BankStatementLine(models.Model):
    """A line of the bank's statement file, as uploaded by finance."""

    bank_ref = models.CharField(_("bank reference"), max_length=64, unique=True)
    cardholder_number = models.CharField(_("cardholder number"), max_length=32)
    amount = models.BigIntegerField(_("amount (fen)"))
    ts = models.DateTimeField(_("bank time"))
    statement = models.CharField(_("statement file"), max_length=255)
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("bank statement line")
        verbose_name_plural = _("bank statement lines")

    def __str__(self) -> str:
        return self.bank_ref


class PurchaseRefund(models.Model):
    """A consumption correction (消费更正): part or all of an accepted purchase given back
    to the holder's purse, and owed to the card as a correction load."""

    terminal_id = models.CharField(_("terminal id"), max_length=32)
    terminal_seq = models.BigIntegerField(_("terminal seq"))
    card_no = models.CharField(_("card number"), max_length=32)
    amount = models.BigIntegerField(_("amount (fen)"))
    reason = models.CharField(_("reason"), max_length=255)
    posting_id = models.BigIntegerField(_("posting"))
    load_id = models.CharField(_("load id"), max_length=40, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("purchase refund")
        verbose_name_plural = _("purchase refunds")
        indexes = [models.Index(fields=["terminal_id", "terminal_seq"], name="refund_record")]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0),
                                              name="refund_amount_positive")]

    def __str__(self) -> str:
        return f"{self.terminal_id}#{self.terminal_seq} −{self.amount}"


class ClerkShift(models.Model):
    """A clerk's shift at the counter: the cash the books say the drawer holds at close,
    what the clerk counted, and the difference (posted to suspense and reported)."""

    clerk = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("clerk"))
    opened_at = models.DateTimeField(_("opened at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    cash_in = models.BigIntegerField(_("cash taken (fen)"), default=0)
    cash_out = models.BigIntegerField(_("cash paid out (fen)"), default=0)
    expected = models.BigIntegerField(_("expected in drawer (fen)"), null=True, blank=True)
    counted = models.BigIntegerField(_("counted (fen)"), null=True, blank=True)
    difference = models.BigIntegerField(_("difference (fen)"), null=True, blank=True)
    posting_id = models.BigIntegerField(_("posting"), null=True, blank=True)

    class Meta:
        verbose_name = _("clerk shift")
        verbose_name_plural = _("clerk shifts")
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["clerk"], condition=models.Q(closed_at__isnull=True),
                                    name="one_open_shift_per_clerk"),
            models.CheckConstraint(condition=models.Q(counted__isnull=True)
                                   | models.Q(counted__gte=0), name="shift_counted_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.clerk_id} {self.opened_at:%Y-%m-%d %H:%M}"


class ReadingPurpose(models.TextChoices):
    READ = "read", _("Read at the desk")
    REPLACE = "replace", _("Before replacement")
    CANCEL = "cancel", _("Before cancellation")


class CardReading(models.Model):
    """What the issuing station read off a card in the holder's hand (GET STATUS), beside
    what the accepted records said at that moment. A difference means records not yet
    uploaded (or worse) and is raised as `card_reading_mismatch` for finance."""

    card_no = models.CharField(_("card number"), max_length=32, db_index=True)
    purpose = models.CharField(_("purpose"), max_length=16, choices=ReadingPurpose.choices)
    card_seq = models.BigIntegerField(_("card_seq on the card"))
    main = models.BigIntegerField(_("main purse on the card"))
    subsidy = models.BigIntegerField(_("subsidy purse on the card"))
    key_version = models.PositiveSmallIntegerField(_("key version on the card"))
    recorded_card_seq = models.BigIntegerField(_("last accepted card_seq"))
    recorded_main = models.BigIntegerField(_("main purse by the records"))
    recorded_subsidy = models.BigIntegerField(_("subsidy purse by the records"))
    read_at = models.DateTimeField(_("read at"), auto_now_add=True)
    read_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                related_name="+", verbose_name=_("read by"))
    # The same difference read twice (a clerk reading again) points to one exception.
    exception = models.ForeignKey(ReconException, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="readings",
                                  verbose_name=_("exception"))

    class Meta:
        verbose_name = _("card reading")
        verbose_name_plural = _("card readings")
        ordering = ["-read_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(card_seq__gte=0, main__gte=0, subsidy__gte=0),
                name="card_reading_nonneg",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.card_no} {self.purpose} {self.read_at:%Y-%m-%d %H:%M}"

    @property
    def on_card(self) -> dict[str, int]:
        return {"card_seq": self.card_seq, "main": self.main, "subsidy": self.subsidy}

    @property
    def recorded(self) -> dict[str, int]:
        return {"card_seq": self.recorded_card_seq, "main": self.recorded_main,
                "subsidy": self.recorded_subsidy}

    @property
    def differences(self) -> dict[str, int]:
        """On the card minus by the records, for each figure that differs."""
        on_card, recorded = self.on_card, self.recorded
        return {name: on_card[name] - recorded[name] for name in on_card
                if on_card[name] != recorded[name]}
