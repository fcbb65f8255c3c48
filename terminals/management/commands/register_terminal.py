"""`register_terminal --kind KIND --name NAME [--merchant CODE] [--doors N]`: prints
one JSON line {"terminal_id": ..., "secret": ...}; exit 2 when no KEK is configured."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from accounts.errors import KeysUnavailable
from core.errors import DomainError
from terminals.models import TerminalKind
from terminals.services import terminal_register


class Command(BaseCommand):
    help = "Register a terminal and print its id and secret (shown only this once) as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", required=True, choices=TerminalKind.values)
        parser.add_argument("--name", required=True)
        parser.add_argument("--merchant", default=None, help="merchant code (required for pos)")
        parser.add_argument("--doors", type=int, default=0, help="doors of a door controller")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            terminal, secret = terminal_register(
                kind=options["kind"], name=options["name"], merchant_code=options["merchant"],
                doors=options["doors"], by=None, channel="command",
            )
        except KeysUnavailable as exc:
            self.stderr.write(f"{exc.message} " + _("Set ONECARD_KEK or ONECARD_KEK_FILE."))
            sys.exit(2)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps({"terminal_id": terminal.terminal_id, "secret": secret}))
