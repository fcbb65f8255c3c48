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
