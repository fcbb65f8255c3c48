"""`python manage.py reconcile [--date YYYY-MM-DD]`: reconcile a business day."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from settlement.tasks import close_day


class Command(BaseCommand):
    help = "Reconcile a business day (default: yesterday) and print a one-line summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="the business day, YYYY-MM-DD (default: yesterday)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["date"]:
            try:
                day = dt.date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(_("--date must be YYYY-MM-DD.")) from exc
        else:
            day = timezone.localdate() - dt.timedelta(days=1)
        closed = close_day(day=day)
        run = closed.run
        raised = ", ".join(f"{code} {n}" for code, n in sorted(run.raised.items())) or _("none")
        settled = (_("settlement waits until the day is over") if closed.settlement_deferred
                   else _("%(n)d merchants settled") % {"n": len(closed.settled)})
        self.stdout.write(
            _("Reconciled %(day)s: new exceptions: %(raised)s; ledger %(ledger)s; "
              "%(settled)s.") % {
                "day": day.isoformat(), "raised": raised, "settled": settled,
                "ledger": _("balanced") if not run.ledger_breaches else _("BREACHED"),
            }
        )
        if run.ledger_breaches:
            raise SystemExit(1)
