"""Settlement statements a finance office can print: a business day's settlement (one
line per merchant) and a merchant's month (one line per business day), as XLSX
(openpyxl) and PDF (reportlab), in the active language. Amounts are yuan with two
decimals; the fee rounding rule is printed under the table."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Merchant
from settlement.models import MerchantSettlement
from settlement.selectors import settlements_of_day, settlements_of_month

CJK_FONT = "STSong-Light"  # a CID font every PDF reader has; no font file shipped

Cell = str | int


def yuan(fen: int) -> str:
    """12345 -> "123.45", -5 -> "-0.05": exact, no float on the way."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


@dataclass
class Statement:
    """What both formats print. Money columns hold fen (ints) and print as yuan."""

    title: str
    facts: list[tuple[str, str]]
    headers: list[str]
    rows: list[list[Cell]]
    totals: list[Cell]
    money_columns: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    filename: str = "statement"


def _money_headers() -> list[str]:
    return [_("Purchases"), _("Gross (yuan)"), _("Fee (yuan)"), _("Net (yuan)")]


def _fee_note() -> str:
    return _("Fee = gross × fee rate (basis points) / 10000, rounded to the fen, "
             "exact half fen to the even fen (banker's rounding).")


def _printed_at() -> tuple[str, str]:
    return _("Printed at"), timezone.localtime().strftime("%Y-%m-%d %H:%M")


def _sums(rows: Sequence[MerchantSettlement]) -> list[Cell]:
    return [sum(r.count for r in rows), sum(r.gross for r in rows),
            sum(r.fee for r in rows), sum(r.net for r in rows)]


def day_statement(business_date: dt.date) -> Statement:
    rows = settlements_of_day(business_date)
    return Statement(
        title=_("Merchant settlement statement"),
        facts=[(_("Business day"), business_date.isoformat()), _printed_at()],
        headers=[_("Merchant"), _("Name"), _("Fee rate (bp)"), *_money_headers()],
        rows=[[r.merchant.code, r.merchant.name, r.fee_rate_bp, r.count, r.gross, r.fee, r.net]
              for r in rows],
        totals=[_("Total"), "", "", *_sums(rows)],
        money_columns={4, 5, 6},
        notes=[_fee_note()],
        filename=f"settlement-{business_date.isoformat()}",
    )


def month_statement(*, merchant: Merchant, year: int, month: int) -> Statement:
    rows = settlements_of_month(year=year, month=month, merchant=merchant)
    return Statement(
        title=_("Merchant monthly settlement statement"),
        facts=[(_("Merchant"), f"{merchant.code} {merchant.name}"),
               (_("Month"), f"{year:04d}-{month:02d}"), _printed_at()],
        headers=[_("Business day"), _("Fee rate (bp)"), *_money_headers()],
        rows=[[r.business_date.isoformat(), r.fee_rate_bp, r.count, r.gross, r.fee, r.net]
              for r in rows],
        totals=[_("Total"), "", *_sums(rows)],
        money_columns={3, 4, 5},
        notes=[_fee_note()],
        filename=f"settlement-{merchant.code}-{year:04d}-{month:02d}",
    )


# --- XLSX -------------------------------------------------------------------------------


def statement_xlsx(statement: Statement) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Statement")[:31]
    sheet.append([statement.title])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in statement.facts:
        sheet.append([label, value])
    sheet.append([])
    header_row = sheet.max_row + 1
    sheet.append(statement.headers)
    thin = Side(style="thin")
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.border = Border(bottom=thin)
        cell.alignment = Alignment(horizontal="center")
    for values in [*statement.rows, statement.totals]:
        sheet.append([Decimal(v) / 100 if i in statement.money_columns and isinstance(v, int)
                      else v for i, v in enumerate(values)])
        for i in statement.money_columns:
            sheet.cell(row=sheet.max_row, column=i + 1).number_format = "#,##0.00"
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
        cell.border = Border(top=thin)
    sheet.append([])
    for note in statement.notes:
        sheet.append([note])
    for i, header in enumerate(statement.headers, start=1):
        width = max([len(header) * 2, 12] + [len(str(r[i - 1])) + 2 for r in statement.rows])
        sheet.column_dimensions[get_column_letter(i)].width = min(width, 40)
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- PDF --------------------------------------------------------------------------------


def _register_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def statement_pdf(statement: Statement) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _register_font()
    title_style = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, spaceAfter=6)
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=14)
    cell_style = ParagraphStyle("cell", fontName=font, fontSize=9, leading=12)

    def shown(i: int, v: Cell) -> Cell | Paragraph:
        if i in statement.money_columns and isinstance(v, int):
            return yuan(v)
        return Paragraph(_escape(v), cell_style) if isinstance(v, str) else str(v)

    table_rows: list[list[Cell | Paragraph]] = [
        [Paragraph(_escape(h), cell_style) for h in statement.headers]]
    table_rows += [[shown(i, v) for i, v in enumerate(r)] for r in statement.rows]
    table_rows.append([shown(i, v) for i, v in enumerate(statement.totals)])
    numeric = [i for i, v in enumerate(statement.totals) if isinstance(v, int)]
    table = Table(table_rows, repeatRows=1)
    style = [
        ("FONT", (0, 0), (-1, -1), font, 9),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f3f3f3")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    style += [("ALIGN", (i, 1), (i, -1), "RIGHT") for i in numeric]
    table.setStyle(TableStyle(style))

    story = [Paragraph(_escape(statement.title), title_style)]
    story += [Paragraph(_escape(f"{label}: {value}"), body) for label, value in statement.facts]
    story += [Spacer(1, 4 * mm), table, Spacer(1, 4 * mm)]
    story += [Paragraph(_escape(note), body) for note in statement.notes]
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), title=statement.title,
                            leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm)
    doc.build(story)
    return out.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
