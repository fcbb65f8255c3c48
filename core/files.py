"""File answers of the API (reports, statements): their content types and the one way an
attachment is sent."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_CONTENT_TYPE = "application/pdf"


def attachment(content: bytes, *, filename: str, content_type: str) -> HttpResponse:
    """`content` as a download named `filename`."""
    answer = HttpResponse(content, content_type=content_type)
    answer["Content-Disposition"] = f'attachment; filename="{filename}"'
    return answer


def xlsx_table(title: str, facts: list[tuple[str, str]], headers: list[str],
               rows: Iterable[list[Any]], widths: Sequence[int]) -> bytes:
    """A one-sheet report as a finance or HR office prints it: the title, a few facts
    (label, value; the moment printed is added), then a header row and the rows. Written
    row by row (openpyxl's write-only mode), so a long report is never held as cells."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    for number, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width
    heading = WriteOnlyCell(sheet, value=title)
    heading.font = Font(bold=True, size=14)
    sheet.append([heading])
    printed = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    for label, value in [*facts, (str(_("Printed at")), printed)]:
        sheet.append([label, value])
    sheet.append([])
    cells = []
    for text in headers:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        cell.border = Border(bottom=Side(style="thin"))
        cell.alignment = Alignment(horizontal="center")
        cells.append(cell)
    sheet.append(cells)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
