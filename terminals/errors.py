"""The terminals app's error catalogue: why a terminal's request was refused, with the
stable codes of the terminal protocol."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class TerminalAuthFailed(DomainError):
    status = 401


class TerminalUnknown(TerminalAuthFailed):
    code = "terminal_unknown"
    default_message = _("No terminal with this id is registered.")


class BadSignature(TerminalAuthFailed):
    code = "bad_signature"
    default_message = _("The request signature does not match.")


class ClockSkew(TerminalAuthFailed):
    code = "clock_skew"
    default_message = _("The terminal's clock is more than 300 seconds off the server's.")


class ReplayedNonce(TerminalAuthFailed):
    code = "replayed_nonce"
    default_message = _("This nonce was already used; every request needs a fresh one.")


class TerminalDisabled(DomainError):
    code = "terminal_disabled"
    status = 403
    default_message = _("This terminal is disabled.")


class NotAllowedForKind(DomainError):
    code = "not_allowed_for_kind"
    status = 403
    default_message = _("This kind of terminal may not make this call.")


class InvalidBatch(DomainError):
    code = "invalid_batch"
    default_message = _('The body must be {"records": [...]} with 1 to 1000 records.')


class BatchTooLarge(DomainError):
    code = "batch_too_large"
    status = 413
    default_message = _("The body is larger than 1 MiB.")
