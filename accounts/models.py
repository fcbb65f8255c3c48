"""Cardholders, cards, purses, the double-entry ledger, keys and the blacklist.

Models hold data and the constraints the database enforces; every write goes
through `accounts.services` (and `accounts.ledger` for money).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.errors import InvalidStatus


class OrgUnitKind(models.TextChoices):
    SCHOOL = "school", _("School")
    DEPARTMENT = "department", _("Department")
    CLASS = "class", _("Class")
    OFFICE = "office", _("Office")


class OrgUnit(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=OrgUnitKind.choices)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent unit"),
    )

    class Meta:
        verbose_name = _("organisation unit")
        verbose_name_plural = _("organisation units")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CardholderKind(models.TextChoices):
    STUDENT = "student", _("Student")
    STAFF = "staff", _("Staff")
    VISITOR = "visitor", _("Visitor")


class CardholderStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    LEFT = "left", _("Left")


class Cardholder(models.Model):
    number = models.CharField(_("number"), max_length=32, unique=True)
    name = models.CharField(pgettext_lazy("person", "name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=CardholderKind.choices)
    org_unit = models.ForeignKey(
        OrgUnit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cardholders",
        verbose_name=_("organisation unit"),
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=CardholderStatus.choices,
        default=CardholderStatus.ACTIVE,
    )
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True, default="")
    email = models.EmailField(_("email"), blank=True, default="")
    # The portal login (username = number); staff users never have one.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cardholder",
        verbose_name=_("portal user"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("cardholder")
        verbose_name_plural = _("cardholders")
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class Merchant(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    fee_rate_bp = models.PositiveIntegerField(_("fee rate (basis points)"), default=0)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fee_rate_bp__gte=0) & Q(fee_rate_bp__lte=10000),
                name="merchant_fee_rate_bp_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Purse(models.TextChoices):
    MAIN = "main", _("Main purse")
    SUBSIDY = "subsidy", _("Subsidy purse")


class CardStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    LOST = "lost", _("Reported lost")
    FROZEN = "frozen", _("Frozen")
    REPLACED = "replaced", _("Replaced")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


# The one table of allowed status changes: (from, to) -> the action that makes it.
CARD_TRANSITIONS: dict[tuple[str, str], str] = {
    (CardStatus.ACTIVE, CardStatus.LOST): "report_loss",
    (CardStatus.FROZEN, CardStatus.LOST): "report_loss",
    (CardStatus.LOST, CardStatus.ACTIVE): "unlock",
    (CardStatus.ACTIVE, CardStatus.FROZEN): "freeze",
    (CardStatus.FROZEN, CardStatus.ACTIVE): "unfreeze",
    (CardStatus.ACTIVE, CardStatus.REPLACED): "replace",
    (CardStatus.LOST, CardStatus.REPLACED): "replace",
    (CardStatus.FROZEN, CardStatus.REPLACED): "replace",
    (CardStatus.ACTIVE, CardStatus.CANCELLED): "cancel",
    (CardStatus.LOST, CardStatus.CANCELLED): "cancel",
    (CardStatus.FROZEN, CardStatus.CANCELLED): "cancel",
    # A graduate's expired card is cancelled to refund what the holder still has.
    (CardStatus.EXPIRED, CardStatus.CANCELLED): "cancel",
    (CardStatus.ACTIVE, CardStatus.EXPIRED): "expire",
    (CardStatus.LOST, CardStatus.EXPIRED): "expire",
    (CardStatus.FROZEN, CardStatus.EXPIRED): "expire",
}

# How an action reads in "it cannot be %(action)s" (past participle).
CARD_ACTION_LABELS = {
    "report_loss": _("reported lost"),
    "unlock": _("unlocked"),
    "freeze": _("frozen"),
    "unfreeze": _("unfrozen"),
    "replace": _("replaced"),
    "cancel": _("cancelled"),
    "expire": _("expired"),
}

# Live cards still bind their UID and count as the holder's card in use.
LIVE_STATUSES = (CardStatus.ACTIVE, CardStatus.LOST, CardStatus.FROZEN)
# Statuses that money may still be loaded to (top-ups, subsidies): a lost or frozen
# card keeps receiving money owed; it follows the holder to a replacement.
LOADABLE_STATUSES = LIVE_STATUSES
BLACKLISTED_STATUSES = (
    CardStatus.LOST,
    CardStatus.FROZEN,
    CardStatus.REPLACED,
    CardStatus.CANCELLED,
    CardStatus.EXPIRED,
)


class Card(models.Model):
    card_no = models.CharField(_("card number"), max_length=19, unique=True)
    uid = models.CharField(_("UID"), max_length=20)
    cardholder = models.ForeignKey(
        Cardholder, on_delete=models.PROTECT, related_name="cards", verbose_name=_("cardholder")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=CardStatus.choices, default=CardStatus.ACTIVE
    )
    deposit = models.BigIntegerField(_("deposit (fen)"), default=0)
    key_version = models.PositiveSmallIntegerField(_("key version"), default=1)
    card_seq = models.BigIntegerField(_("last accepted card_seq"), default=0)
    # What accepted records say is on the card, per purse (sum of loads minus purchases).
    card_main = models.BigIntegerField(_("card balance, main"), default=0)
    card_subsidy = models.BigIntegerField(_("card balance, subsidy"), default=0)
    suspected_clone = models.BooleanField(_("suspected clone"), default=False)
    blacklisted = models.BooleanField(_("blacklisted"), default=False)
    replaced_by = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaces",
        verbose_name=_("replaced by"),
    )
    issued_at = models.DateTimeField(_("issued at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("card")
        verbose_name_plural = _("cards")
        ordering = ["card_no"]
        constraints = [
            models.UniqueConstraint(
                Lower("uid"), condition=Q(status__in=LIVE_STATUSES), name="card_uid_unique_live"
            ),
            models.UniqueConstraint(
                fields=["cardholder"],
                condition=Q(status__in=LIVE_STATUSES),
                name="card_one_live_per_cardholder",
            ),
            models.CheckConstraint(condition=Q(deposit__gte=0), name="card_deposit_nonneg"),
            models.CheckConstraint(condition=Q(card_seq__gte=0), name="card_seq_nonneg"),
            models.CheckConstraint(
                condition=Q(key_version__gte=1) & Q(key_version__lte=255),
                name="card_key_version_range",
            ),
            models.CheckConstraint(
                condition=Q(card_no__regex=r"^[0-9]{8,19}$"), name="card_no_digits"
            ),
            models.CheckConstraint(
                condition=Q(uid__regex=r"^([0-9a-f]{2}){4,10}$"), name="card_uid_lower_hex"
            ),
            # The listed flag is derived from status and clone suspicion, never set alone.
            models.CheckConstraint(
                condition=(
                    Q(blacklisted=True)
                    & (Q(status__in=BLACKLISTED_STATUSES) | Q(suspected_clone=True))
                )
                | (
                    Q(blacklisted=False)
                    & ~Q(status__in=BLACKLISTED_STATUSES)
                    & Q(suspected_clone=False)
                ),
                name="card_blacklisted_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return self.card_no

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    def card_balance(self, purse: str) -> int:
        return self.card_main if purse == Purse.MAIN else self.card_subsidy

    def require_status(self, *allowed: str) -> None:
        if self.status not in allowed:
            raise InvalidStatus(
                _("Card %(card_no)s is %(status)s.")
                % {"card_no": self.card_no, "status": self.get_status_display()},
                status=self.status,
            )

    def require_transition(self, to: str, action: str) -> None:
        if CARD_TRANSITIONS.get((self.status, to)) != action:
            raise InvalidStatus(
                _("Card %(card_no)s is %(status)s: it cannot be %(action)s.")
                % {
                    "card_no": self.card_no,
                    "status": self.get_status_display(),
                    "action": CARD_ACTION_LABELS[action],
                },
                status=self.status,
                action=action,
            )


class CardNoCounter(models.Model):
    """Hands out card numbers `YYYY` + serial; one row per year, taken under a row lock."""

    year = models.PositiveIntegerField(_("year"), primary_key=True)
    last = models.PositiveIntegerField(_("last serial"), default=0)

    class Meta:
        verbose_name = _("card number counter")
        verbose_name_plural = _("card number counters")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


# --- Ledger -----------------------------------------------------------------------


class AccountKind(models.TextChoices):
    PURSE_MAIN = "purse_main", _("Holder main purse")
    PURSE_SUBSIDY = "purse_subsidy", _("Holder subsidy purse")
    CASH_DRAWER = "cash_drawer", _("Clerk cash drawer")
    BANK_CLEARING = "bank_clearing", _("Bank clearing")
    ONLINE_CLEARING = "online_clearing", _("Online payment clearing")
    SUBSIDY_FUND = "subsidy_fund", _("Subsidy fund")
    DEPOSITS_HELD = "deposits_held", _("Card deposits held")
    FEE_INCOME = "fee_income", _("Fee income")
    MERCHANT_PAYABLE = "merchant_payable", _("Merchant payable")
    REFUNDS = "refunds", _("Refunds payable")
    SUSPENSE = "suspense", _("Suspense")
    TERMINAL_CASH = "terminal_cash", _("Terminal cash box")


PURSE_KINDS = (AccountKind.PURSE_MAIN, AccountKind.PURSE_SUBSIDY)
PURSE_ACCOUNT_KIND = {Purse.MAIN: AccountKind.PURSE_MAIN, Purse.SUBSIDY: AccountKind.PURSE_SUBSIDY}


class LedgerAccount(models.Model):
    """A ledger account. `balance` is the sum of its entries, credit-positive: what the
    institution owes (purses, payables, income) is positive, what it holds (cash, bank)
    is negative."""

    code = models.CharField(_("code"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=32, choices=AccountKind.choices)
    name = models.CharField(_("name"), max_length=120)
    cardholder = models.ForeignKey(
        Cardholder,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
        verbose_name=_("cardholder"),
    )
    merchant = models.ForeignKey(
        Merchant,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
        verbose_name=_("merchant"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
        verbose_name=_("user"),
    )
    balance = models.BigIntegerField(_("balance (fen)"), default=0)
    # Upper bound for purses (the card's own limit); null for other accounts.
    max_balance = models.BigIntegerField(_("maximum balance (fen)"), null=True, blank=True)

    class Meta:
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__in=PURSE_KINDS)
                | (
                    Q(balance__gte=0)
                    & Q(max_balance__isnull=False)
                    & Q(balance__lte=F("max_balance"))
                ),
                name="ledger_purse_within_bounds",
            ),
            models.UniqueConstraint(
                fields=["cardholder", "kind"],
                condition=Q(cardholder__isnull=False),
                name="ledger_one_purse_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class PostingKind(models.TextChoices):
    DEPOSIT = "deposit", _("Deposit on issue")
    TOP_UP = "top_up", _("Top-up")
    CANCEL = "cancel", _("Cancellation and refund")
    SUBSIDY = "subsidy", _("Subsidy")
    RECORD_PURCHASE = "record_purchase", _("Purchase at a terminal")
    RECORD_LOAD = "record_load", _("Cash load at a terminal")
    ADJUSTMENT = "adjustment", _("Correction by finance")
    SETTLEMENT = "settlement", _("Merchant settlement")
    REFUND = "refund", _("Purchase refund")
    CASH_COUNT = "cash_count", _("Drawer count difference")


class Posting(models.Model):
    """One balanced money movement. Its entries sum to zero (checked by a deferred
    constraint trigger in PostgreSQL); postings and entries are append-only.
    `memo` is written in English for the record; show `get_kind_display()` beside it."""

    idempotency_key = models.CharField(_("idempotency key"), max_length=128, unique=True)
    kind = models.CharField(_("kind"), max_length=32, choices=PostingKind.choices)
    memo = models.CharField(_("memo"), max_length=255, blank=True, default="")
    card = models.ForeignKey(
        Card,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="postings",
        verbose_name=_("card"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("posting")
        verbose_name_plural = _("postings")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class Entry(models.Model):
    posting = models.ForeignKey(
        Posting, on_delete=models.PROTECT, related_name="entries", verbose_name=_("posting")
    )
    account = models.ForeignKey(
        LedgerAccount,
        on_delete=models.PROTECT,
        related_name="entries",
        verbose_name=_("ledger account"),
    )
    amount = models.BigIntegerField(_("amount (fen)"))

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_nonzero")]

    def __str__(self) -> str:
        return f"#{self.posting_id} {self.account.code} {self.amount:+d}"


# --- Pending loads ------------------------------------------------------------------


class LoadStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    COMPLETED = "completed", _("Written to the card")
    TRANSFERRED = "transferred", _("Moved to a replacement card")
    VOIDED = "voided", _("Voided")


class LoadSource(models.TextChoices):
    TOP_UP = "top_up", _("Top-up")
    SUBSIDY = "subsidy", _("Subsidy")
    REPLACEMENT = "replacement", _("Balance from a replaced card")
    CORRECTION = "correction", _("Correction")


class TopUpMethod(models.TextChoices):
    CASH = "cash", _("Cash")
    BANK = "bank", _("Bank")
    ONLINE = "online", _("Online")


def new_load_id() -> str:
    return f"L-{uuid.uuid4().hex}"


class PendingLoad(models.Model):
    """Money owed to a card but not yet written to it."""

    load_id = models.CharField(_("load ID"), max_length=40, unique=True, default=new_load_id)
    card = models.ForeignKey(
        Card, on_delete=models.PROTECT, related_name="loads", verbose_name=_("card")
    )
    purse = models.CharField(_("purse"), max_length=16, choices=Purse.choices)
    amount = models.BigIntegerField(_("amount (fen)"))
    status = models.CharField(
        _("status"), max_length=16, choices=LoadStatus.choices, default=LoadStatus.PENDING
    )
    source = models.CharField(_("source"), max_length=16, choices=LoadSource.choices)
    method = models.CharField(
        _("payment method"), max_length=16, choices=TopUpMethod.choices, blank=True, default=""
    )
    reference = models.CharField(_("reference"), max_length=128, blank=True, default="")
    posting = models.ForeignKey(
        Posting,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="loads",
        verbose_name=_("posting"),
    )
    subsidy_batch = models.ForeignKey(
        "SubsidyBatch",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="loads",
        verbose_name=_("subsidy batch"),
    )
    transferred_to = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transferred_from",
        verbose_name=_("transferred to"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("pending load")
        verbose_name_plural = _("pending loads")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["card", "status"], name="load_card_status")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="load_amount_positive")
        ]

    def __str__(self) -> str:
        return self.load_id


class SubsidyBatch(models.Model):
    # Hash of the batch's content: the same batch submitted twice is found by it.
    batch_key = models.CharField(_("batch key"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    purse = models.CharField(_("purse"), max_length=16, choices=Purse.choices)
    count = models.PositiveIntegerField(_("number of cardholders"))
    total = models.BigIntegerField(_("total (fen)"))
    posting = models.OneToOneField(
        Posting, on_delete=models.PROTECT, related_name="subsidy_batch", verbose_name=_("posting")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("subsidy batch")
        verbose_name_plural = _("subsidy batches")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


# --- Blacklist ----------------------------------------------------------------------


class BlacklistAction(models.TextChoices):
    ADD = "add", _("Add")
    REMOVE = "remove", _("Remove")


class BlacklistVersion(models.Model):
    """One change of one card's listed state. `version` is gapless: it comes from the
    locked counter row, not a sequence, so terminals can trust `since=V` deltas."""

    version = models.BigIntegerField(_("version"), unique=True)
    card = models.ForeignKey(
        Card, on_delete=models.PROTECT, related_name="blacklist_versions", verbose_name=_("card")
    )
    card_no = models.CharField(_("card number"), max_length=19)
    action = models.CharField(_("action"), max_length=8, choices=BlacklistAction.choices)
    reason = models.CharField(_("reason"), max_length=32)
    at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("blacklist change")
        verbose_name_plural = _("blacklist changes")
        ordering = ["-version"]
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="blacklist_version_pos")
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.get_action_display()} {self.card_no}"


class BlacklistCounter(models.Model):
    id = models.PositiveSmallIntegerField(_("ID"), primary_key=True, default=1)
    version = models.BigIntegerField(_("latest version"), default=0)

    class Meta:
        verbose_name = _("blacklist counter")
        verbose_name_plural = _("blacklist counters")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="blacklist_counter_singleton")
        ]

    def __str__(self) -> str:
        return f"v{self.version}"


# --- Keys ---------------------------------------------------------------------------


class KeyPurpose(models.TextChoices):
    PURSE = "purse", _("Purse master key")


class StoredKey(models.Model):
    """A master key wrapped with AES-GCM under the KEK; the clear key is never stored."""

    purpose = models.CharField(_("purpose"), max_length=16, choices=KeyPurpose.choices)
    version = models.PositiveSmallIntegerField(_("version"))
    wrapped = models.BinaryField(_("wrapped key"))
    kek_id = models.CharField(_("KEK ID"), max_length=16)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stored key")
        verbose_name_plural = _("stored keys")
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "version"], name="key_purpose_version_unique"
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1) & Q(version__lte=255), name="key_version_range"
            ),
        ]

    def __str__(self) -> str:
        # Purpose and version only: never any key bytes.
        return f"{self.purpose} v{self.version}"


# --- Audit and idempotent requests ---------------------------------------------------


class AuditEvent(models.Model):
    """Append-only: the application refuses changes, and so does a database trigger."""

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_label = models.CharField(_("actor name"), max_length=150, blank=True, default="")
    channel = models.CharField(_("channel"), max_length=16, default="api")
    action = models.CharField(_("action"), max_length=64, db_index=True)
    subject_type = models.CharField(_("subject type"), max_length=32)
    subject_id = models.CharField(_("subject ID"), max_length=64, db_index=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    request_id = models.CharField(_("request ID"), max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        at = self.at.isoformat(timespec="seconds") if self.at else "-"
        return f"{at} {self.action} {self.subject_type}:{self.subject_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("audit events are append-only")
