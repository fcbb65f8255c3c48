"""The accounts app's error catalogue: each refusal of a card, purse, ledger or key rule
with its stable code (the codes are part of the operations API contract)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, DomainError, InvalidRequest


class InvalidStatus(Conflict):
    code = "invalid_status"
    default_message = _("This action does not fit the card's status.")


class DuplicateNumber(Conflict):
    code = "duplicate_number"
    default_message = _("A cardholder with this number already exists.")


class DuplicateMerchant(Conflict):
    code = "duplicate_code"
    default_message = _("A merchant with this code already exists.")


class ActiveCardExists(Conflict):
    code = "active_card_exists"
    default_message = _("This cardholder already has a card in use.")


class UidInUse(Conflict):
    code = "uid_in_use"
    default_message = _("This card UID is already in use.")


class InvalidAmount(DomainError):
    code = "invalid_amount"
    default_message = _("The amount must be a positive whole number of fen.")


class BalanceLimitExceeded(DomainError):
    code = "balance_limit_exceeded"
    default_message = _("This would take the purse above its maximum balance.")


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    default_message = _("The purse does not hold enough money.")


class UnknownCardholders(DomainError):
    code = "unknown_cardholders"
    default_message = _("Some cardholders are unknown; nothing was changed.")


class CardholdersWithoutCard(DomainError):
    code = "cardholders_without_card"
    default_message = _("Some cardholders have no card in use; nothing was changed.")


class ImportFailed(DomainError):
    code = "import_failed"
    default_message = _("The file has errors; nothing was imported.")


class KeysUnavailable(DomainError):
    code = "keys_unavailable"
    status = 503
    default_message = _("Key material is not available on this server (no KEK configured).")


class KeyVersionUnknown(DomainError):
    code = "unknown_key_version"
    status = 409
    default_message = _("No purse master key is stored for this key version.")


class KeyVersionExists(Conflict):
    code = "key_version_exists"
    default_message = _("A key with this purpose and version is already stored.")


class OrgUnitCycle(InvalidRequest):
    """An org unit placed under itself or a unit below it: the tree would close a loop."""

    code = "org_unit_cycle"
    default_message = _("An organisation unit cannot be placed under itself or a unit below it.")


class UnknownCardholder(InvalidRequest):
    """A body names a cardholder that does not exist (400, not 404: the URL was fine)."""

    code = "unknown_cardholder"
    default_message = _("No cardholder has this number.")


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 401
    default_message = _("The number or the password is wrong.")
