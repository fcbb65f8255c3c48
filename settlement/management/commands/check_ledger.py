"""`python manage.py check_ledger`: every ledger invariant, on demand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from accounts.selectors import ledger_check


class Command(BaseCommand):
    help = "Check the ledger: trial balance, accounts equal their entries, cards equal accounts."

    def handle(self, *args: Any, **options: Any) -> None:
        breaches = ledger_check()
        for b in breaches:
            self.stderr.write(f"{b.rule}: {b.subject}: {b.detail}")
        if breaches:
            self.stderr.write(_("%(n)d breaches found.") % {"n": len(breaches)})
            raise SystemExit(1)
        self.stdout.write(_("The ledger is balanced; every invariant holds."))
