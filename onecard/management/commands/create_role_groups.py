"""`create_role_groups`: one Django group per role, with its admin console permissions."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from onecard.staff import role_groups_ensure


class Command(BaseCommand):
    help = "Make sure a group exists for each staff role, with its console permissions."

    def handle(self, *args: Any, **options: Any) -> None:
        groups = role_groups_ensure()
        self.stdout.write(", ".join(g.name for g in groups))
