"""The terminal registry: canteen POS readers, door controllers, attendance clocks,
kiosks and the card office's issuing readers (terminal-protocol.md §6).

Each terminal's 32-byte secret is stored only wrapped under the KEK (§8); it is handed
out once, in clear, when the terminal is registered.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

TERMINAL_ID_PATTERN = r"^[A-Za-z0-9-]{1,32}$"


class TerminalKind(models.TextChoices):
    POS = "pos", _("Point of sale")
    DOOR = "door", _("Door controller")
    ATTENDANCE = "attendance", _("Attendance clock")
    KIOSK = "kiosk", _("Self-service kiosk")
    ISSUER = "issuer", _("Card office issuing reader")


# The prefix of the terminal ids the server hands out for each kind: POS-0001, DOOR-0001 ...
TERMINAL_ID_PREFIX: dict[str, str] = {
    TerminalKind.POS: "POS",
    TerminalKind.DOOR: "DOOR",
    TerminalKind.ATTENDANCE: "ATT",
    TerminalKind.KIOSK: "KIOSK",
    TerminalKind.ISSUER: "ISS",
}


class TerminalStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DISABLED = "disabled", _("Disabled")
    RETIRED = "retired", _("Retired")


class Terminal(models.Model):
    terminal_id = models.CharField(_("terminal id"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=TerminalKind.choices)
    name = models.CharField(_("name"), max_length=100)
    merchant = models.ForeignKey(
        "accounts.Merchant", null=True, blank=True, on_delete=models.PROTECT,
        related_name="terminals", verbose_name=_("merchant"),
    )
    doors = models.PositiveSmallIntegerField(_("doors"), default=0)
    # AES-GCM under the KEK with aad "onecard:terminal:<terminal_id>"; never the clear secret.
    secret_wrapped = models.BinaryField()
    kek_id = models.CharField(max_length=16)
    status = models.CharField(
        _("status"), max_length=16, choices=TerminalStatus.choices, default=TerminalStatus.ACTIVE
    )
    config_version = models.PositiveIntegerField(_("config version"), default=1)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    # What the terminal last told us (heartbeats) and what we hold of it (records).
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)
    blacklist_version = models.BigIntegerField(_("blacklist version applied"), default=0)
    access_list_version = models.BigIntegerField(_("access list version applied"), default=0)
    reported_last_seq = models.BigIntegerField(_("last terminal_seq reported"), default=0)
    queued_records = models.PositiveIntegerField(_("records queued on the terminal"), default=0)
    faults = models.JSONField(_("open faults"), default=list, blank=True)
    # Every terminal_seq from 1 to this one is stored (highest_contiguous_seq).
    contiguous_seq = models.BigIntegerField(_("highest contiguous seq"), default=0)

    class Meta:
        verbose_name = _("terminal")
        verbose_name_plural = _("terminals")
        ordering = ["terminal_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(terminal_id__regex=TERMINAL_ID_PATTERN), name="terminal_id_format"
            ),
            models.CheckConstraint(
                condition=~Q(kind=TerminalKind.POS) | Q(merchant__isnull=False),
                name="terminal_pos_has_merchant",
            ),
            models.CheckConstraint(
                condition=Q(config_version__gte=1), name="terminal_config_version_pos"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.terminal_id} {self.name}"


class Nonce(models.Model):
    """A nonce a terminal used; the unique index refuses a replay in every server
    process at once. Rows older than the replay window are purged."""

    terminal = models.ForeignKey(Terminal, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=64)
    at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("request nonce")
        verbose_name_plural = _("request nonces")
        constraints = [
            models.UniqueConstraint(fields=["terminal", "nonce"], name="nonce_unique_per_terminal")
        ]

    def __str__(self) -> str:
        return f"{self.terminal_id} {self.nonce}"


class RecordType(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    LOAD = "load", _("Load")
    DOOR = "door", _("Door")
    PUNCH = "punch", _("Punch")


# The record types that move money on a purse.
PURSE_TYPES = (RecordType.PURCHASE, RecordType.LOAD)


class RecordStatus(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


class TerminalRecord(models.Model):
    """One record a terminal stored and uploaded, at its terminal_seq: accepted (and for
    purse records posted to the ledger) or rejected and kept for investigation."""

    # No single-column indexes on terminal and card: the unique (terminal, terminal_seq)
    # and the (card, card_seq) indexes lead with them and serve the same lookups (the
    # foreign keys' checks too); each index more costs every record stored its upkeep.
    terminal = models.ForeignKey(
        Terminal, on_delete=models.PROTECT, related_name="records", verbose_name=_("terminal"),
        db_index=False,
    )
    terminal_seq = models.BigIntegerField(_("terminal seq"))
    type = models.CharField(_("type"), max_length=16)
    status = models.CharField(_("status"), max_length=16, choices=RecordStatus.choices)
    reason = models.CharField(_("reason"), max_length=32, blank=True, default="")
    detail = models.CharField(_("detail"), max_length=255, blank=True, default="")
    card_no = models.CharField(_("card number"), max_length=32, blank=True, default="")
    card = models.ForeignKey(
        "accounts.Card", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("card"), db_index=False,
    )
    ts = models.BigIntegerField(_("terminal time"), null=True, blank=True)
    card_seq = models.BigIntegerField(_("card seq"), null=True, blank=True)
    purse = models.CharField(_("purse"), max_length=16, blank=True, default="")
    amount = models.BigIntegerField(_("amount (fen)"), null=True, blank=True)
    balance_before = models.BigIntegerField(_("balance before"), null=True, blank=True)
    load_id = models.CharField(_("load id"), max_length=40, blank=True, default="")
    posting_id = models.BigIntegerField(_("posting"), null=True, blank=True)
    # What looked wrong but was accepted (money already moved on the card): for the
    # nightly reconciliation, e.g. "suspense_shortfall", "blacklisted_card".
    flags = models.JSONField(_("flags"), default=list, blank=True)
    content_hash = models.CharField(max_length=64)
    raw = models.JSONField(_("record as received"))
    received_at = models.DateTimeField(_("received at"), db_index=True)

    class Meta:
        verbose_name = _("terminal record")
        verbose_name_plural = _("terminal records")
        ordering = ["terminal", "terminal_seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["terminal", "terminal_seq"], name="record_unique_terminal_seq"
            ),
            models.CheckConstraint(condition=Q(terminal_seq__gte=1), name="record_seq_positive"),
        ]
        indexes = [
            models.Index(fields=["card", "card_seq"], name="record_card_seq"),
            # Attendance reads a holder's punches by card and clock time.
            models.Index(fields=["card", "ts"], condition=Q(type="punch"),
                         name="record_punch_card_ts"),
        ]

    def __str__(self) -> str:
        return f"{self.terminal_id}#{self.terminal_seq} {self.type} {self.status}"


class QuarantinedRecord(models.Model):
    """A record whose terminal_seq was already stored with other content (`conflict`):
    kept whole for investigation, nothing posted."""

    terminal = models.ForeignKey(Terminal, on_delete=models.PROTECT, related_name="+")
    terminal_seq = models.BigIntegerField(_("terminal seq"))
    reason = models.CharField(_("reason"), max_length=32)
    raw = models.JSONField(_("record as received"))
    content_hash = models.CharField(max_length=64)
    received_at = models.DateTimeField(_("received at"), db_index=True)

    class Meta:
        verbose_name = _("quarantined record")
        verbose_name_plural = _("quarantined records")
        constraints = [
            models.UniqueConstraint(
                fields=["terminal", "terminal_seq", "content_hash"],
                name="quarantine_unique_content",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.terminal_id}#{self.terminal_seq} {self.reason}"


class HeartbeatLog(models.Model):
    """Each heartbeat's list versions: reconciliation asks which version a terminal
    had applied when it sold to a card (§7 blacklisted_card_used)."""

    terminal = models.ForeignKey(Terminal, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(_("at"))
    blacklist_version = models.BigIntegerField(_("blacklist version applied"))
    # Door controllers: the access list they had applied (a revoked card let in by a
    # controller still on an older list is its list's fault, not the server's).
    access_list_version = models.BigIntegerField(_("access list version applied"), default=0)

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")
        indexes = [models.Index(fields=["terminal", "at"], name="heartbeat_terminal_at")]

    def __str__(self) -> str:
        return f"{self.terminal_id} {self.at:%Y-%m-%d %H:%M:%S} v{self.blacklist_version}"
