"""Security's reports on an area, from its door events: who entered it in a period, and
who is inside it now (for a muster after an evacuation). Each is a plain dict (the JSON
answer) and, in the language of the request, a spreadsheet. Times are the moments at
the door, shown in the server's time zone."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from access import event_selectors
from access.models import AccessEvent, Area, DoorDirection


def _local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).isoformat()


def _passage(event: AccessEvent) -> dict[str, Any]:
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


def area_entries_report(area: Area, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Every granted entry to the area in [start, end), in order."""
    entries = [_passage(e) for e in event_selectors.area_entries(area, start, end)]
    return {"area": area.code, "name": area.name, "from": _local(start), "to": _local(end),
            "count": len(entries), "entries": entries}


def area_presence_report(area: Area, at: dt.datetime | None = None) -> dict[str, Any]:
    """Who is inside the area now: each with the entry that let them in."""
    inside = [{**_passage(e), "since": _local(e.ts)}
              for e in event_selectors.area_presence(area, at)]
    for person in inside:
        del person["ts"], person["direction"]
    return {"area": area.code, "name": area.name, "as_of": _local(at or timezone.now()),
            "count": len(inside), "inside": inside}


# --- XLSX ---------------------------------------------------------------------------------


def _direction_label(value: str | None) -> str:
    return str(DoorDirection(value).label) if value in DoorDirection.values else ""


def _sheet(title: str, facts: list[tuple[str, str]], headers: list[str],
           rows: Iterable[list[Any]], widths: tuple[int, ...]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in [*facts, (_("Printed at"),
                                  timezone.localtime().strftime("%Y-%m-%d %H:%M"))]:
        sheet.append([label, value])
    sheet.append([])
    sheet.append(headers)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
        cell.border = Border(bottom=Side(style="thin"))
        cell.alignment = Alignment(horizontal="center")
    for row in rows:
        sheet.append(row)
    for letter, width in zip("ABCDEFG", widths, strict=False):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _when(text: str) -> str:
    return dt.datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")


def entries_xlsx(report: dict[str, Any]) -> bytes:
    headers = [_("Time"), _("Cardholder number"), _("Holder name"), _("Card number"),
               _("Door id"), _("Door name"), _("Direction")]
    rows = ([_when(e["ts"]), e["cardholder"] or "", e["name"], e["card_no"], e["door"],
             e["door_name"], _direction_label(e["direction"])] for e in report["entries"])
    facts = [(_("Area"), f"{report['area']} {report['name']}"),
             (_("From"), _when(report["from"])), (_("To"), _when(report["to"])),
             (_("Entries"), str(report["count"]))]
    return _sheet(_("Entries to the area"), facts, headers, rows, (20, 18, 16, 20, 18, 24, 10))


def presence_xlsx(report: dict[str, Any]) -> bytes:
    headers = [_("Cardholder number"), _("Holder name"), _("Card number"), _("Inside since"),
               _("Entered by door"), _("Door name")]
    rows = ([p["cardholder"], p["name"], p["card_no"], _when(p["since"]), p["door"],
             p["door_name"]] for p in report["inside"])
    facts = [(_("Area"), f"{report['area']} {report['name']}"),
             (_("As of"), _when(report["as_of"])), (_("People inside"), str(report["count"]))]
    return _sheet(_("Who is inside the area"), facts, headers, rows, (18, 16, 20, 20, 18, 24))
