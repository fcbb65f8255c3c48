"""Security's reports on an area, from its door events: who entered it in a period, and
who is inside it now (for a muster after an evacuation). Each is a heading and its
events in a stable order: the API pages them as JSON rows, the spreadsheet (in the
language of the request) holds them all. Times are the moments at the door, shown in
the server's time zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from access import event_selectors
from access.models import AccessEvent, Area, DoorDirection
from core.files import xlsx_table

# Rows are read from the database in chunks of this many, for a spreadsheet of a whole
# term: the events are never all in memory at once.
CHUNK = 2000


def _local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).isoformat()


def entry_row(event: AccessEvent) -> dict[str, Any]:
    """One passage of the entries report (the JSON row; the spreadsheet's line)."""
    holder = event.cardholder
    return {
        "ts": _local(event.ts),
        "cardholder": holder.number if holder else None,
        "name": holder.name if holder else "",
        "card_no": event.card_no,
        "door": event.door_id,
        "door_name": event.door.name,
        "direction": event.direction,
    }


def presence_row(event: AccessEvent) -> dict[str, Any]:
    """One person inside, with the entry that let them in."""
    row = {**entry_row(event), "since": _local(event.ts)}
    del row["ts"], row["direction"]
    return row


@dataclass
class Report:
    """What a report is about (`heading`: the area, the period or the moment) and its
    events in the order shown (ts, id: a page never overlaps or skips the next)."""

    heading: dict[str, Any]
    events: QuerySet[AccessEvent]
    row: Callable[[AccessEvent], dict[str, Any]]

    def rows(self) -> Iterator[dict[str, Any]]:
        return (self.row(event) for event in self.events.iterator(chunk_size=CHUNK))


def area_entries_report(area: Area, start: dt.datetime, end: dt.datetime) -> Report:
    """Every granted entry to the area in [start, end), in order."""
    return Report({"area": area.code, "name": area.name, "from": _local(start),
                   "to": _local(end)}, event_selectors.area_entries(area, start, end), entry_row)


def area_presence_report(area: Area, at: dt.datetime | None = None) -> Report:
    """Who is inside the area now (or at `at`): the longest inside first."""
    return Report({"area": area.code, "name": area.name, "as_of": _local(at or timezone.now())},
                  event_selectors.area_presence(area, at), presence_row)


# --- XLSX ---------------------------------------------------------------------------------


def _direction_label(value: str | None) -> str:
    return str(DoorDirection(value).label) if value in DoorDirection.values else ""


def _when(text: str) -> str:
    return dt.datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")


def entries_xlsx(report: Report) -> bytes:
    headers = [_("Time"), _("Cardholder number"), _("Holder name"), _("Card number"),
               _("Door id"), _("Door name"), _("Direction")]
    rows = ([_when(e["ts"]), e["cardholder"] or "", e["name"], e["card_no"], e["door"],
             e["door_name"], _direction_label(e["direction"])] for e in report.rows())
    head = report.heading
    facts = [(_("Area"), f"{head['area']} {head['name']}"),
             (_("From"), _when(head["from"])), (_("To"), _when(head["to"])),
             (_("Entries"), str(report.events.count()))]
    return xlsx_table(_("Entries to the area"), facts, headers, rows, (20, 18, 16, 20, 18, 24, 10))


def presence_xlsx(report: Report) -> bytes:
    headers = [_("Cardholder number"), _("Holder name"), _("Card number"), _("Inside since"),
               _("Entered by door"), _("Door name")]
    rows = ([p["cardholder"], p["name"], p["card_no"], _when(p["since"]), p["door"],
             p["door_name"]] for p in report.rows())
    head = report.heading
    facts = [(_("Area"), f"{head['area']} {head['name']}"),
             (_("As of"), _when(head["as_of"])),
             (_("People inside"), str(report.events.count()))]
    return xlsx_table(_("Who is inside the area"), facts, headers, rows, (18, 16, 20, 20, 18, 24))
