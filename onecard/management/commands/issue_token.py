"""`issue_token --user NAME --role ROLE [--password PW]`: prints the token alone."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from core.roles import Role
from onecard.staff import staff_user_ensure


class Command(BaseCommand):
    help = (
        "Create the staff user if missing, put it in the role's group and print its API "
        "token (the same token on every run)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="username")
        parser.add_argument("--role", required=True, help=f"one of {', '.join(Role.values)}")
        parser.add_argument("--password", default=None,
                            help="console password (default: none, token only)")

    def handle(self, *args: Any, **options: Any) -> None:
        role = options["role"]
        if role not in Role.values:
            raise CommandError(_("Unknown role %(role)s; roles are: %(roles)s")
                               % {"role": role, "roles": ", ".join(Role.values)})
        _user, token = staff_user_ensure(
            username=options["user"], role=role, password=options["password"]
        )
        self.stdout.write(token.key)
