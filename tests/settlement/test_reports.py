"""The daily summary: a day at the card office and two canteens, read back by finance
as figures, as a spreadsheet, and in Chinese."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from accounts import services
from accounts.models import LoadSource, PendingLoad
from settlement.corrections import purchase_refund
from settlement.reports import daily_summary
from settlement.services import reconcile_day
from tests.factories import StaffFactory, make_card, make_merchant
from tests.settlement.test_reconcile import accept, kiosk  # noqa: F401 (fixture)
from tests.settlement.test_settlement import client_for
from tests.terminals.protocol import Chip, SignedTerminal, terminal_for

pytestmark = pytest.mark.django_db

DAILY = "/api/v1/reports/daily"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def load_all(kiosk: SignedTerminal, chip: Chip, source: str) -> None:  # noqa: F811
    """The holder taps the kiosk: every pending load of `source` is written to the card."""
    for load in PendingLoad.objects.filter(card=chip.card, source=source, status="pending"):
        accept(kiosk, chip.load(kiosk, load.amount, load.purse, load_id=load.load_id))


@pytest.fixture
def day(client: Any, clerk: Any, finance_user: Any, purse_key: Any,
        kiosk: SignedTerminal) -> dt.date:  # noqa: F811
    """Li gets a card with a 20-yuan deposit, Wang one without. Li tops up 100 yuan in
    cash, Wang 30 by bank and 5 online; a meal subsidy gives Li 15 and Wang 10. Li eats
    at canteen C1 (12.50 main, 8.00 subsidy), Wang too (6.00 main) and buys coffee at C2
    (4.00 subsidy, 3.00 main). The office refunds Li 2.50 of the rice, then Li leaves
    and cancels the card for cash. The cafe's terminal skipped a record number."""
    make_merchant(code="C1", fee_rate_bp=50, by=clerk)
    make_merchant(code="C2", fee_rate_bp=0, by=clerk)
    canteen = terminal_for(client, "pos", by=clerk, name="Canteen 1", merchant_code="C1")
    cafe = terminal_for(client, "pos", by=clerk, name="Cafe", merchant_code="C2")
    li = Chip.of(make_card(by=clerk, deposit=2_000))
    wang = Chip.of(make_card(by=clerk))
    services.card_top_up(card=li.card, amount=10_000, method="cash", by=clerk)
    services.card_top_up(card=wang.card, amount=3_000, method="bank", by=clerk,
                         reference="BANK-1")
    services.card_top_up(card=wang.card, amount=500, method="online", by=clerk,
                         reference="PAY-1")
    services.subsidy_batch_create(
        name="Meal subsidy", purse="subsidy", by=finance_user,
        entries=[{"cardholder": li.card.cardholder.number, "amount": 1_500},
                 {"cardholder": wang.card.cardholder.number, "amount": 1_000}])
    for chip in (li, wang):
        load_all(kiosk, chip, LoadSource.TOP_UP)
        load_all(kiosk, chip, LoadSource.SUBSIDY)
    accept(canteen, li.purchase(canteen, 1_250), li.purchase(canteen, 800, "subsidy"),
           wang.purchase(canteen, 600))
    cafe.next_seq()  # a record the cafe never uploads
    accept(cafe, wang.purchase(cafe, 400, "subsidy"), wang.purchase(cafe, 300))
    purchase_refund(terminal_id=canteen.terminal_id, terminal_seq=1, amount=250,
                    reason="charged twice for rice", by=clerk)
    services.card_cancel(card=li.card, refund_method="cash", by=clerk)
    today = timezone.localdate()
    reconcile_day(business_date=today)
    return today


def test_the_days_figures_add_up(on_postgres: None, day: dt.date) -> None:
    summary = daily_summary(day)

    assert summary["date"] == day.isoformat()
    assert summary["sales"] == {
        "merchants": [
            {"merchant": "C1", "name": "Merchant C1", "count": 3, "main": 1_850,
             "subsidy": 800, "total": 2_650},
            {"merchant": "C2", "name": "Merchant C2", "count": 2, "main": 300,
             "subsidy": 400, "total": 700},
        ],
        "total": {"count": 5, "main": 2_150, "subsidy": 1_200, "total": 3_350},
    }
    assert summary["top_ups"] == {
        "methods": {"cash": {"count": 1, "amount": 10_000},
                    "bank": {"count": 1, "amount": 3_000},
                    "online": {"count": 1, "amount": 500}},
        "total": {"count": 3, "amount": 13_500},
    }
    assert summary["subsidies"] == {"granted": {"batches": 1, "amount": 2_500},
                                    "spent": {"count": 2, "amount": 1_200}}
    assert summary["deposits"] == {"taken": {"count": 1, "amount": 2_000},
                                   "refunded": {"count": 1, "amount": 2_000}}
    # Li is paid main 100 - 12.50 + 2.50, subsidy 15 - 8 and the deposit 20: 117 yuan.
    assert summary["refunds"] == {
        "cancellations": {"count": 1, "amount": 11_700, "fees": 0},
        "purchases": {"count": 1, "amount": 250},
    }
    assert summary["exceptions"] == {"open": {"terminal_seq_gap": 1}, "total": 1}


def test_another_day_is_empty(day: dt.date) -> None:
    summary = daily_summary(day - dt.timedelta(days=1))

    assert summary["sales"]["merchants"] == []
    assert summary["top_ups"]["total"] == {"count": 0, "amount": 0}
    assert summary["subsidies"]["granted"] == {"batches": 0, "amount": 0}
    assert summary["deposits"]["taken"] == {"count": 0, "amount": 0}
    assert summary["refunds"]["cancellations"]["amount"] == 0
    assert summary["exceptions"] == {"open": {}, "total": 0}


def test_finance_reads_the_summary_as_json(finance_user: Any, day: dt.date) -> None:
    answer = client_for(finance_user).get(DAILY, {"date": day.isoformat()})

    assert answer.status_code == 200, answer.content
    assert answer.json() == daily_summary(day)


def rows_of(content: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def test_the_summary_as_a_spreadsheet_in_yuan(finance_user: Any, day: dt.date) -> None:
    answer = client_for(finance_user).get(DAILY, {"date": day.isoformat(), "format": "xlsx"})

    assert answer.status_code == 200
    assert answer["Content-Type"] == XLSX
    assert f'filename="daily-{day.isoformat()}.xlsx"' in answer["Content-Disposition"]
    rows = rows_of(answer.content)
    assert rows[0][0] == "Daily summary"
    assert rows[1][:2] == ["Business day", day.isoformat()]
    assert ["Merchant", "Name", "Purchases", "Main purse (yuan)", "Subsidy purse (yuan)",
            "Total (yuan)"] in rows
    assert ["C1", "Merchant C1", 3, 18.5, 8, 26.5] in rows
    assert ["C2", "Merchant C2", 2, 3, 4, 7] in rows
    assert ["Total", None, 5, 21.5, 12, 33.5] in rows
    firsts = {r[0]: r[1:3] for r in rows if r and r[0]}
    assert firsts["Cash"] == [1, 100] and firsts["Bank"] == [1, 30]
    assert firsts["Online"] == [1, 5]
    assert firsts["Granted (batches)"] == [1, 25]
    assert firsts["Spent (purchases)"] == [2, 12]
    assert firsts["Taken at issue"] == [1, 20]
    assert firsts["Refunded at cancellation"] == [1, 20]
    assert firsts["Cancellation refunds paid"] == [1, 117]
    assert firsts["Purchase refunds (consumption corrections)"] == [1, 2.5]
    assert firsts["Records missing from a terminal"][0] == 1


def test_the_summary_speaks_chinese_when_asked(finance_user: Any, day: dt.date) -> None:
    answer = client_for(finance_user, "zh-hans").get(
        DAILY, {"date": day.isoformat(), "format": "xlsx"})

    words = {str(c) for row in rows_of(answer.content) for c in row if c}
    assert {"日报表", "营业日", "商户销售", "按方式充值", "补助", "押金", "退款",
            "未处理的异常", "现金", "合计"} <= words


@pytest.mark.parametrize("query", [{}, {"date": "2026-13-01"},
                                   {"date": "2026-01-05", "format": "pdf"}])
def test_a_bad_query_is_refused(finance_user: Any, query: dict[str, str]) -> None:
    answer = client_for(finance_user).get(DAILY, query)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_request"


def test_the_card_office_may_not_read_the_summary_and_the_auditor_may(clerk: Any) -> None:
    office: APIClient = client_for(clerk)
    auditor = client_for(StaffFactory(username="auditor-zhao", role="auditor"))

    assert office.get(DAILY, {"date": "2026-01-05"}).status_code == 403
    assert auditor.get(DAILY, {"date": "2026-01-05"}).status_code == 200
    assert auditor.get(DAILY, {"date": "2026-01-05", "format": "xlsx"}).status_code == 200
