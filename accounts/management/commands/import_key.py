"""`import_key --purpose purse --version N --hex KEY`: store a master key wrapped under
the KEK. Prints nothing. Exit 2 when no KEK is configured, 1 for a bad key or a version
that is already stored."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from accounts.errors import KeysUnavailable, KeyVersionExists
from accounts.keys import key_import
from accounts.models import KeyPurpose


class Command(BaseCommand):
    help = "Store a purse master key, encrypted under the KEK (ONECARD_KEK / ONECARD_KEK_FILE)."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # The contract names the option --version; it takes over Django's own --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--purpose", required=True, choices=KeyPurpose.values)
        parser.add_argument("--version", dest="key_version", type=int, required=True,
                            help="key version, 1 to 255")
        parser.add_argument("--hex", dest="key_hex", required=True,
                            help="the key as hex (32 characters for a purse key)")

    def handle(self, *args: Any, **options: Any) -> None:
        purpose, version = options["purpose"], options["key_version"]
        try:
            key_import(purpose=purpose, version=version, key_hex=options["key_hex"].strip(),
                       by=None, channel="command")
        except KeysUnavailable as exc:
            self.stderr.write(f"{exc.message} " + _("Set ONECARD_KEK or ONECARD_KEK_FILE."))
            sys.exit(2)
        except KeyVersionExists as exc:
            raise CommandError(
                _("A %(purpose)s key version %(version)d is already stored; keys are never "
                  "replaced.") % {"purpose": purpose, "version": version}
            ) from exc
        except ValueError as exc:  # bad hex, wrong length, version out of range
            raise CommandError(_("Key not stored: %(e)s") % {"e": exc}) from exc
