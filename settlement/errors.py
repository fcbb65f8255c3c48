"""The settlement app's error catalogue: refusals of finance actions (bank statements,
cash shifts, adjustments, refunds), with their stable codes."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, DomainError


class NoCardInUse(Conflict):
    code = "no_card_in_use"
    default_message = _("This cardholder has no card in use.")


class BankRefConflict(Conflict):
    code = "bank_ref_conflict"
    default_message = _(
        "This bank reference was already reported with different content.")


class InvalidStatement(DomainError):
    code = "invalid_statement"
    default_message = _(
        "The bank statement has errors; nothing was stored.")


class ShiftAlreadyOpen(Conflict):
    code = "shift_already_open"
    default_message = _("This clerk already has an open shift.")


class SecondApproverRequired(Conflict):
    code = "second_approver_required"
    default_message = _("This adjustment is above the approval threshold: another finance "
                        "user must approve it.")


class ProposalDiffers(Conflict):
    code = "proposal_differs"
    default_message = _("The approval must repeat the proposed amount and purse.")


class NothingToAdjust(Conflict):
    code = "nothing_to_adjust"
    default_message = _("This exception names no card to adjust.")


class RefundExceedsPurchase(DomainError):
    code = "refund_exceeds_purchase"
    default_message = _("A purchase cannot be refunded beyond its amount.")
