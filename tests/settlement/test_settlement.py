"""Merchant settlement as a day at two canteens: the POS terminals upload their sales
through the real endpoints; after midnight finance settles the day, each merchant is
paid its gross less the fee (half-even), the payable is emptied into bank clearing,
and the statement prints as XLSX and PDF."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Entry, Posting
from accounts.selectors import ledger_check
from settlement.models import MerchantSettlement
from settlement.settle import round_half_even_div, settlement_fee, settlement_run
from terminals.models import TerminalRecord
from tests.factories import StaffFactory, make_merchant
from tests.settlement.test_reconcile import accept, kiosk, loaded_chip  # noqa: F401
from tests.terminals.protocol import SignedTerminal, balance, payable, terminal_for

pytestmark = pytest.mark.django_db

SETTLEMENTS = "/api/v1/settlements"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- the fee rule -----------------------------------------------------------------------


@pytest.mark.parametrize(("gross", "bp", "fee"), [
    (100, 50, 0),     # 0.5 fen -> 0 (even)
    (300, 50, 2),     # 1.5 fen -> 2 (even)
    (500, 50, 2),     # 2.5 fen -> 2 (even)
    (700, 50, 4),     # 3.5 fen -> 4
    (2_500, 50, 12),  # 12.5 fen -> 12, where half-up would take 13
    (2_501, 50, 13),  # 12.505 -> 13
    (2_499, 50, 12),  # 12.495 -> 12
    (12_345, 0, 0),
    (12_345, 10_000, 12_345),
])
def test_the_fee_is_rounded_half_to_even(gross: int, bp: int, fee: int) -> None:
    assert settlement_fee(gross, bp) == fee


@given(st.integers(min_value=-10**15, max_value=10**15),
       st.integers(min_value=1, max_value=10**6))
def test_integer_half_even_division_agrees_with_decimal(numerator: int, denominator: int) -> None:
    expected = (Decimal(numerator) / Decimal(denominator)).quantize(
        Decimal(1), rounding=ROUND_HALF_EVEN)
    assert round_half_even_div(numerator, denominator) == int(expected)


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10_000))
def test_the_fee_agrees_with_decimal_half_even(gross: int, bp: int) -> None:
    expected = (Decimal(gross) * bp / 10_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    assert settlement_fee(gross, bp) == int(expected)


# --- a day at two canteens ----------------------------------------------------------------


@pytest.fixture
def canteen(client: Any, clerk: Any, purse_key: Any) -> SignedTerminal:
    make_merchant(code="C1", fee_rate_bp=50, by=clerk)
    return terminal_for(client, "pos", by=clerk, name="Canteen 1", merchant_code="C1")


@pytest.fixture
def cafe(client: Any, clerk: Any, purse_key: Any) -> SignedTerminal:
    make_merchant(code="C2", fee_rate_bp=0, by=clerk)
    return terminal_for(client, "pos", by=clerk, name="Cafe", merchant_code="C2")


def arrived_yesterday() -> dt.date:
    """The uploads so far came in a day earlier: that day is over and may be settled."""
    TerminalRecord.objects.update(received_at=F("received_at") - dt.timedelta(days=1))
    first = TerminalRecord.objects.order_by("received_at").first()
    assert first is not None
    return timezone.localdate(first.received_at)


@pytest.fixture
def day(clerk: Any, kiosk: SignedTerminal, canteen: SignedTerminal,  # noqa: F811
        cafe: SignedTerminal) -> dt.date:
    """Two students eat at canteen C1 (50 bp: 1250 + 800 + 450 = 2500 fen, fee 12.5 fen)
    and buy coffee at C2 (no fee: 600 + 400 fen)."""
    li = loaded_chip(clerk, kiosk)
    wang = loaded_chip(clerk, kiosk, amount=3_000)
    accept(canteen, li.purchase(canteen, 1_250), wang.purchase(canteen, 800),
           li.purchase(canteen, 450))
    accept(cafe, li.purchase(cafe, 600), wang.purchase(cafe, 400))
    return arrived_yesterday()


def by_merchant(rows: list[MerchantSettlement]) -> dict[str, tuple[int, int, int, int, int]]:
    return {r.merchant.code: (r.count, r.gross, r.fee, r.net, r.fee_rate_bp) for r in rows}


def test_finance_settles_a_day_per_merchant_and_pays_the_net_to_the_bank(
        on_postgres: None, finance_user: Any, day: dt.date) -> None:
    assert (payable("C1"), payable("C2")) == (2_500, 1_000)

    made = settlement_run(business_date=day, by=finance_user)

    assert by_merchant(made) == {"C1": (3, 2_500, 12, 2_488, 50),
                                 "C2": (2, 1_000, 0, 1_000, 0)}
    assert (payable("C1"), payable("C2")) == (0, 0)
    assert balance("fee_income") == 12
    assert balance("bank_clearing") == 2_488 + 1_000
    c1 = next(r for r in made if r.merchant.code == "C1")
    assert c1.posting_id is not None
    posting = Posting.objects.get(pk=c1.posting_id)
    assert posting.idempotency_key == f"settlement:C1:{day.isoformat()}"
    legs = {e.account.code: e.amount for e in Entry.objects.filter(posting=posting)
            .select_related("account")}
    assert legs == {"merchant_payable:C1": -2_500, "fee_income": 12, "bank_clearing": 2_488}
    assert sum(legs.values()) == 0
    assert ledger_check() == []
    audits = AuditEvent.objects.filter(action="settlement.merchant_day").order_by("subject_id")
    assert [(a.subject_id, a.actor_id, (a.after or {}).get("net")) for a in audits] == [
        (f"C1:{day}", finance_user.pk, 2_488), (f"C2:{day}", finance_user.pk, 1_000)]


def test_settling_a_day_twice_settles_nothing_twice(
        finance_user: Any, day: dt.date) -> None:
    first = settlement_run(business_date=day, by=finance_user)
    again = settlement_run(business_date=day, by=finance_user)

    assert len(first) == 2 and again == []
    assert MerchantSettlement.objects.count() == 2
    assert Posting.objects.filter(kind="settlement").count() == 2
    assert balance("bank_clearing") == 3_488
    assert ledger_check() == []


def test_a_sale_uploaded_after_midnight_belongs_to_the_next_day(
        clerk: Any, finance_user: Any, kiosk: SignedTerminal,  # noqa: F811
        canteen: SignedTerminal) -> None:
    chip = loaded_chip(clerk, kiosk)
    accept(canteen, chip.purchase(canteen, 300))  # 1.5 fen fee -> 2
    yesterday = arrived_yesterday()
    accept(canteen, chip.purchase(canteen, 999))  # arrives today, offline since yesterday

    [settled] = settlement_run(business_date=yesterday, by=finance_user)

    assert (settled.count, settled.gross, settled.fee, settled.net) == (1, 300, 2, 298)
    assert payable("C1") == 999
    today = timezone.localdate()
    with pytest.raises(Exception) as refused:
        settlement_run(business_date=today, by=finance_user)
    assert getattr(refused.value, "code", None) == "invalid_request"
    assert not MerchantSettlement.objects.filter(business_date=today).exists()
    assert ledger_check() == []


def test_a_day_without_sales_settles_no_merchant(finance_user: Any, canteen: SignedTerminal
                                                 ) -> None:
    assert settlement_run(business_date=dt.date(2026, 1, 5), by=finance_user) == []
    assert MerchantSettlement.objects.count() == 0


# --- the API and the statements -----------------------------------------------------------


def client_for(user: Any, language: str = "en") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    client.default_format = "json"
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def finance(finance_user: Any) -> APIClient:
    return client_for(finance_user)


def test_finance_settles_through_the_api_and_reads_the_day(
        finance: APIClient, day: dt.date) -> None:
    posted = finance.post(SETTLEMENTS, {"date": day.isoformat()})
    again = finance.post(SETTLEMENTS, {"date": day.isoformat()})
    listed = finance.get(SETTLEMENTS, {"date": day.isoformat()})
    other_day = finance.get(SETTLEMENTS, {"date": (day - dt.timedelta(days=1)).isoformat()})

    assert posted.status_code == 201, posted.content
    assert [(r["merchant"], r["net"]) for r in posted.json()] == [("C1", 2_488), ("C2", 1_000)]
    assert (again.status_code, again.json()) == (201, [])
    assert listed.status_code == 200
    assert [{k: r[k] for k in ("merchant", "name", "count", "gross", "fee", "net",
                                "fee_rate_bp")} for r in listed.json()] == [
        {"merchant": "C1", "name": "Merchant C1", "count": 3, "gross": 2_500, "fee": 12,
         "net": 2_488, "fee_rate_bp": 50},
        {"merchant": "C2", "name": "Merchant C2", "count": 2, "gross": 1_000, "fee": 0,
         "net": 1_000, "fee_rate_bp": 0},
    ]
    assert other_day.json() == []


@pytest.mark.parametrize("query", [{}, {"date": "2026-13-01"}, {"date": "yesterday"}])
def test_a_bad_date_is_refused(finance: APIClient, query: dict[str, str]) -> None:
    answer = finance.get(SETTLEMENTS, query)
    posted = finance.post(SETTLEMENTS, query)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_request"
    assert posted.status_code == 400


def test_today_cannot_be_settled_before_it_is_over(finance: APIClient) -> None:
    answer = finance.post(SETTLEMENTS, {"date": timezone.localdate().isoformat()})

    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "date"


def test_the_day_statement_as_a_spreadsheet(finance: APIClient, finance_user: Any,
                                            day: dt.date) -> None:
    settlement_run(business_date=day, by=finance_user)

    answer = finance.get(SETTLEMENTS, {"date": day.isoformat(), "format": "xlsx"})

    assert answer.status_code == 200
    assert answer["Content-Type"] == XLSX
    assert f'filename="settlement-{day.isoformat()}.xlsx"' in answer["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    cells = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert cells[0][0] == "Merchant settlement statement"
    assert ["Business day", day.isoformat()] == list(cells[1][:2])
    header = cells.index(next(r for r in cells if r[0] == "Merchant"))
    assert list(cells[header][:7]) == ["Merchant", "Name", "Fee rate (bp)", "Purchases",
                                       "Gross (yuan)", "Fee (yuan)", "Net (yuan)"]
    assert list(cells[header + 1][:7]) == ["C1", "Merchant C1", 50, 3, 25, 0.12, 24.88]
    assert list(cells[header + 2][:7]) == ["C2", "Merchant C2", 0, 2, 10, 0, 10]
    assert list(cells[header + 3][:7]) == ["Total", None, None, 5, 35, 0.12, 34.88]
    assert sheet.cell(row=header + 2, column=7).number_format == "#,##0.00"


def test_the_statement_speaks_chinese_when_asked(finance_user: Any, day: dt.date) -> None:
    settlement_run(business_date=day, by=finance_user)

    answer = client_for(finance_user, "zh-CN,zh;q=0.9").get(
        SETTLEMENTS, {"date": day.isoformat(), "format": "xlsx"})

    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    words = {str(c) for row in sheet.iter_rows(values_only=True) for c in row if c}
    assert {"商户", "笔数", "合计", "营业日"} <= words
    assert any("对账单" in w for w in words)


def test_the_day_statement_as_a_pdf(finance_user: Any, day: dt.date,
                                    tmp_path: Any) -> None:
    settlement_run(business_date=day, by=finance_user)

    answer = client_for(finance_user, "zh-hans").get(
        SETTLEMENTS, {"date": day.isoformat(), "format": "pdf"})

    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/pdf"
    assert f'filename="settlement-{day.isoformat()}.pdf"' in answer["Content-Disposition"]
    assert answer.content.startswith(b"%PDF")
    if shutil.which("pdftoppm"):
        pdf = tmp_path / "statement.pdf"
        pdf.write_bytes(answer.content)
        subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / "page")],
                       check=True, capture_output=True)
        assert list(tmp_path.glob("page*.png"))


def test_a_merchants_month_statement(finance: APIClient, finance_user: Any,
                                     day: dt.date) -> None:
    settlement_run(business_date=day, by=finance_user)
    month = day.strftime("%Y-%m")
    url = f"{SETTLEMENTS}/merchants/C1"

    listed = finance.get(url, {"month": month})
    xlsx = finance.get(url, {"month": month, "format": "xlsx"})
    pdf = finance.get(url, {"month": month, "format": "pdf"})
    unknown = finance.get(f"{SETTLEMENTS}/merchants/NOPE", {"month": month})
    bad_month = finance.get(url, {"month": "2026-13"})

    assert [(r["business_date"], r["net"]) for r in listed.json()] == [(day.isoformat(), 2_488)]
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert [day.isoformat(), 50, 3, 25, 0.12, 24.88] in [r[:6] for r in rows]
    assert f'filename="settlement-C1-{month}.xlsx"' in xlsx["Content-Disposition"]
    assert pdf.content.startswith(b"%PDF")
    assert (unknown.status_code, bad_month.status_code) == (404, 400)


def test_an_unknown_format_is_refused(finance: APIClient) -> None:
    answer = finance.get(SETTLEMENTS, {"date": "2026-01-05", "format": "docx"})

    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "format"


def test_the_card_office_may_not_see_settlements_and_the_auditor_only_reads(
        clerk: Any, day: dt.date) -> None:
    office = client_for(clerk)
    auditor = client_for(StaffFactory(username="auditor-zhao", role="auditor"))

    assert office.get(SETTLEMENTS, {"date": day.isoformat()}).status_code == 403
    assert office.post(SETTLEMENTS, {"date": day.isoformat()}).status_code == 403
    assert auditor.get(SETTLEMENTS, {"date": day.isoformat()}).status_code == 200
    assert auditor.get(SETTLEMENTS, {"date": day.isoformat(),
                                     "format": "pdf"}).status_code == 200
    assert auditor.post(SETTLEMENTS, {"date": day.isoformat()}).status_code == 403
    assert MerchantSettlement.objects.count() == 0
