"""Refusals that only the HTTP API gives (the rest live in `onecard.errors`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from onecard.errors import DomainError, InvalidRequest


class UnknownCardholder(InvalidRequest):
    """A body names a cardholder that does not exist (400, not 404: the URL was fine)."""

    code = "unknown_cardholder"
    default_message = _("No cardholder has this number.")


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 401
    default_message = _("The number or the password is wrong.")
