"""The daily summary finance reads each morning: a business day's sales by merchant and
purse, top-ups by method, subsidies granted and spent, deposits, refunds and the day's
open exceptions. Everything is an aggregate query over the day's postings and records
(created or received within the business day); money is integer fen, printed as yuan
in the XLSX file."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AccountKind, Entry, PostingKind, Purse, TopUpMethod
from settlement.models import ExceptionCode, ExceptionStatus, PurchaseRefund, ReconException
from settlement.services import business_day_bounds
from terminals.models import RecordStatus, RecordType, TerminalRecord

# The account a top-up's money came from names its method.
METHOD_OF_SOURCE = {
    AccountKind.CASH_DRAWER: TopUpMethod.CASH,
    AccountKind.BANK_CLEARING: TopUpMethod.BANK,
    AccountKind.ONLINE_CLEARING: TopUpMethod.ONLINE,
}
# Where a cancellation's refund goes: the clerk's drawer (cash) or refunds payable (bank).
REFUND_TARGETS = (AccountKind.CASH_DRAWER, AccountKind.REFUNDS)


def _entries(start: dt.datetime, end: dt.datetime, kind: str, *account_kinds: str) -> Any:
    return Entry.objects.filter(
        posting__kind=kind, posting__created_at__gte=start, posting__created_at__lt=end,
        account__kind__in=account_kinds,
    )


def _sum_count(queryset: Any, *, negate: bool = False) -> dict[str, int]:
    got = queryset.aggregate(amount=Sum("amount"), count=Count("posting", distinct=True))
    amount = int(got["amount"] or 0)
    return {"count": got["count"], "amount": -amount if negate else amount}


def _sales(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    rows = (
        TerminalRecord.objects.filter(
            type=RecordType.PURCHASE, status=RecordStatus.ACCEPTED,
            received_at__gte=start, received_at__lt=end, terminal__merchant__isnull=False,
        )
        .values("terminal__merchant__code", "terminal__merchant__name")
        .annotate(
            count=Count("id"),
            main=Sum("amount", filter=Q(purse=Purse.MAIN), default=0),
            subsidy=Sum("amount", filter=Q(purse=Purse.SUBSIDY), default=0),
        )
        .order_by("terminal__merchant__code")
    )
    merchants = [
        {"merchant": r["terminal__merchant__code"], "name": r["terminal__merchant__name"],
         "count": r["count"], "main": int(r["main"]), "subsidy": int(r["subsidy"]),
         "total": int(r["main"]) + int(r["subsidy"])}
        for r in rows
    ]
    total = {key: sum(m[key] for m in merchants)
             for key in ("count", "main", "subsidy", "total")}
    return {"merchants": merchants, "total": total}


def _top_ups(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    rows = (
        _entries(start, end, PostingKind.TOP_UP, *METHOD_OF_SOURCE)
        .values("account__kind")
        .annotate(count=Count("posting", distinct=True), amount=Sum("amount"))
        .order_by()
    )
    methods = {str(m): {"count": 0, "amount": 0} for m in TopUpMethod}
    for r in rows:
        method = methods[str(METHOD_OF_SOURCE[r["account__kind"]])]
        method["count"] += r["count"]
        method["amount"] -= int(r["amount"] or 0)  # money in: the source account goes down
    total = {key: sum(m[key] for m in methods.values()) for key in ("count", "amount")}
    return {"methods": methods, "total": total}


def _subsidies(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    granted = _sum_count(_entries(start, end, PostingKind.SUBSIDY, AccountKind.SUBSIDY_FUND),
                         negate=True)
    spent = TerminalRecord.objects.filter(
        type=RecordType.PURCHASE, status=RecordStatus.ACCEPTED, purse=Purse.SUBSIDY,
        received_at__gte=start, received_at__lt=end,
    ).aggregate(count=Count("id"), amount=Sum("amount", default=0))
    return {"granted": {"batches": granted["count"], "amount": granted["amount"]},
            "spent": {"count": spent["count"], "amount": int(spent["amount"])}}


def _deposits(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    taken = _sum_count(_entries(start, end, PostingKind.DEPOSIT, AccountKind.DEPOSITS_HELD))
    refunded = _sum_count(
        _entries(start, end, PostingKind.CANCEL, AccountKind.DEPOSITS_HELD), negate=True)
    return {"taken": taken, "refunded": refunded}


def _refunds(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    paid = _sum_count(_entries(start, end, PostingKind.CANCEL, *REFUND_TARGETS))
    fees = _sum_count(_entries(start, end, PostingKind.CANCEL, AccountKind.FEE_INCOME))
    purchases = PurchaseRefund.objects.filter(created_at__gte=start, created_at__lt=end
                                              ).aggregate(count=Count("id"),
                                                          amount=Sum("amount", default=0))
    return {"cancellations": {**paid, "fees": fees["amount"]},
            "purchases": {"count": purchases["count"], "amount": int(purchases["amount"])}}


def _exceptions(day: dt.date) -> dict[str, Any]:
    rows = (
        ReconException.objects.filter(business_date=day, status=ExceptionStatus.OPEN)
        .values("code").annotate(count=Count("id")).order_by("code")
    )
    by_code = {r["code"]: r["count"] for r in rows}
    return {"open": by_code, "total": sum(by_code.values())}


def daily_summary(day: dt.date) -> dict[str, Any]:
    """The business day's figures (money in fen). Exceptions are those raised for the
    day that are still open."""
    start, end = business_day_bounds(day)
    return {
        "date": day.isoformat(),
        "sales": _sales(start, end),
        "top_ups": _top_ups(start, end),
        "subsidies": _subsidies(start, end),
        "deposits": _deposits(start, end),
        "refunds": _refunds(start, end),
        "exceptions": _exceptions(day),
    }


# --- XLSX -------------------------------------------------------------------------------


def _section(title: str, headers: list[str], rows: list[list[Any]],
             money: set[int]) -> tuple[str, list[str], list[list[Any]], set[int]]:
    return title, headers, rows, money


def _sections(summary: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]], set[int]]]:
    sales, top_ups = summary["sales"], summary["top_ups"]
    subsidies, deposits, refunds = summary["subsidies"], summary["deposits"], summary["refunds"]
    count, amount = _("Count"), _("Amount (yuan)")
    sales_rows = [[m["merchant"], m["name"], m["count"], m["main"], m["subsidy"], m["total"]]
                  for m in sales["merchants"]]
    t = sales["total"]
    sales_rows.append([_("Total"), "", t["count"], t["main"], t["subsidy"], t["total"]])
    method_rows = [[str(TopUpMethod(m).label), v["count"], v["amount"]]
                   for m, v in top_ups["methods"].items()]
    method_rows.append([_("Total"), top_ups["total"]["count"], top_ups["total"]["amount"]])
    return [
        _section(_("Sales by merchant"),
                 [_("Merchant"), _("Name"), _("Purchases"), _("Main purse (yuan)"),
                  _("Subsidy purse (yuan)"), _("Total (yuan)")], sales_rows, {3, 4, 5}),
        _section(_("Top-ups by method"), [_("Payment method"), count, amount],
                 method_rows, {2}),
        _section(_("Subsidies"), [_("Item"), count, amount], [
            [_("Granted (batches)"), subsidies["granted"]["batches"],
             subsidies["granted"]["amount"]],
            [_("Spent (purchases)"), subsidies["spent"]["count"], subsidies["spent"]["amount"]],
        ], {2}),
        _section(_("Deposits"), [_("Item"), count, amount], [
            [_("Taken at issue"), deposits["taken"]["count"], deposits["taken"]["amount"]],
            [_("Refunded at cancellation"), deposits["refunded"]["count"],
             deposits["refunded"]["amount"]],
        ], {2}),
        _section(_("Refunds"), [_("Item"), count, amount], [
            [_("Cancellation refunds paid"), refunds["cancellations"]["count"],
             refunds["cancellations"]["amount"]],
            [_("Cancellation fees kept"), "", refunds["cancellations"]["fees"]],
            [_("Purchase refunds (consumption corrections)"), refunds["purchases"]["count"],
             refunds["purchases"]["amount"]],
        ], {2}),
        _section(_("Open exceptions"), [_("Exception"), count], [
            *[[str(ExceptionCode(code).label) if code in ExceptionCode.values else code, n]
              for code, n in summary["exceptions"]["open"].items()],
            [_("Total"), summary["exceptions"]["total"]],
        ], set()),
    ]


def daily_summary_xlsx(summary: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Daily summary")[:31]
    sheet.append([_("Daily summary")])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([_("Business day"), summary["date"]])
    sheet.append([_("Printed at"), timezone.localtime().strftime("%Y-%m-%d %H:%M")])
    thin = Side(style="thin")
    for title, headers, rows, money in _sections(summary):
        sheet.append([])
        sheet.append([title])
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True, size=12)
        sheet.append(headers)
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
            cell.border = Border(bottom=thin)
            cell.alignment = Alignment(horizontal="center")
        for values in rows:
            sheet.append([Decimal(v) / 100 if i in money and isinstance(v, int) else v
                          for i, v in enumerate(values)])
            for i in money:
                sheet.cell(row=sheet.max_row, column=i + 1).number_format = "#,##0.00"
    for letter, width in zip("ABCDEF", (40, 20, 14, 18, 20, 16), strict=True):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
