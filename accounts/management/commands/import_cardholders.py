"""`import_cardholders FILE [--dry-run]`: create or update cardholders from a CSV or
XLSX file. All rows valid or nothing changes; errors are listed by line, exit 1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import ImportFailed
from accounts.importing import read_cardholder_rows
from accounts.services import ImportSummary, cardholder_import
from core.errors import DomainError

PROGRESS_EVERY = 100


class _DryRun(Exception):
    """Raised at the end of a dry run so its transaction rolls back."""

    def __init__(self, summary: ImportSummary) -> None:
        self.summary = summary


class Command(BaseCommand):
    help = (
        "Import cardholders from a .csv (UTF-8 or GB18030) or .xlsx file with the header "
        "number,name,kind,department,valid_until,phone,email (or 学号/工号,姓名,类别,部门,"
        "有效期,电话,邮箱)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path of the .csv or .xlsx file")
        parser.add_argument("--dry-run", action="store_true",
                            help="check and count, then roll everything back")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            with path.open("rb") as handle:
                rows = read_cardholder_rows(handle, path.name)
        except OSError as exc:
            message = _("Cannot read %(path)s: %(err)s") % {"path": path, "err": exc.strerror}
            raise CommandError(message) from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        total = len(rows)

        def progress(done: int) -> None:
            if done % PROGRESS_EVERY == 0 or done == total:
                self.stderr.write(_("imported %(done)d/%(total)d") % {"done": done, "total": total},
                                  style_func=str)

        try:
            summary = self._import(rows, progress, dry_run=options["dry_run"])
        except ImportFailed as exc:
            for error in exc.extra.get("errors", []):
                self.stderr.write(_("line %(line)d: %(message)s") % error)
            raise CommandError(f"{exc.message} ({path.name})") from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        counts = {"created": summary.created, "updated": summary.updated,
                  "unchanged": summary.unchanged, "total": total}
        text = _("created %(created)d, updated %(updated)d, unchanged %(unchanged)d "
                 "(%(total)d rows)") % counts
        if options["dry_run"]:
            text = _("dry run, nothing saved: would have %(text)s") % {"text": text}
        self.stdout.write(text)

    def _import(self, rows: list[dict[str, Any]], progress: Callable[[int], None], *,
                dry_run: bool) -> ImportSummary:
        if not dry_run:
            return cardholder_import(rows=rows, by=None, channel="command", progress=progress)
        try:
            with transaction.atomic():
                raise _DryRun(cardholder_import(rows=rows, by=None, channel="command",
                                                progress=progress))
        except _DryRun as done:
            return done.summary
