"""Reading the cardholder files a registry office sends: CSV from many tools, Excel."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import openpyxl
import pytest

from accounts.errors import ImportFailed
from accounts.importing import read_cardholder_rows
from accounts.models import Cardholder
from accounts.services import cardholder_import
from core.errors import InvalidRequest

HEADER = "number,name,kind,department,valid_until,phone,email"


def xlsx_bytes(rows: list[list[Any]]) -> io.BytesIO:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return buffer


def test_a_utf8_csv_with_a_byte_order_mark_reads_as_its_header_says():
    data = f"{HEADER}\nS2026001,张伟,student,CS,2030-07-01,13800000000,zw@example.edu\n"
    rows = read_cardholder_rows(io.BytesIO(data.encode("utf-8-sig")), "students.csv")

    assert rows == [{
        "number": "S2026001", "name": "张伟", "kind": "student", "department": "CS",
        "valid_until": "2030-07-01", "phone": "13800000000", "email": "zw@example.edu",
    }]


def test_a_chinese_excel_csv_in_gb18030_with_chinese_headers_is_understood():
    data = "学号,姓名,类别,院系,有效期,电话,邮箱\r\nS2026002,李娜,student,MATH,2030-07-01,,\r\n"
    encoded = data.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        encoded.decode("utf-8")

    rows = read_cardholder_rows(io.BytesIO(encoded), "名单.CSV")

    assert rows[0]["number"] == "S2026002"
    assert rows[0]["name"] == "李娜"
    assert rows[0]["department"] == "MATH"


def test_chinese_headers_map_to_columns_and_missing_optional_columns_are_blank():
    data = "工号,姓名,类别,部门\nT001,王芳,staff,HR\n"
    rows = read_cardholder_rows(io.BytesIO(data.encode("utf-8")), "staff.csv")

    assert rows == [{"number": "T001", "name": "王芳", "kind": "staff", "department": "HR",
                     "valid_until": "", "phone": "", "email": ""}]


def test_an_xlsx_sheet_keeps_numbers_as_digits_and_dates_as_dates():
    buffer = xlsx_bytes([
        HEADER.split(","),
        [2026003, "赵磊", "student", "CS", dt.datetime(2030, 7, 1), 13900000000, None],
        [None] * 7,  # trailing empty rows that spreadsheets leave behind
    ])
    rows = read_cardholder_rows(buffer, "students.xlsx")

    assert rows == [{"number": "2026003", "name": "赵磊", "kind": "student",
                     "department": "CS", "valid_until": dt.date(2030, 7, 1),
                     "phone": "13900000000", "email": None}]


def test_row_numbers_stay_those_of_the_file_so_errors_point_at_the_right_line(db):
    data = f"{HEADER}\nS1,甲,student,,,,\n\nS3,丙,teacher,,,,\n"
    rows = read_cardholder_rows(io.BytesIO(data.encode()), "list.csv")

    with pytest.raises(ImportFailed) as failed:
        cardholder_import(rows=rows, by=None)

    assert [e["line"] for e in failed.value.extra["errors"]] == [3, 4]
    assert not Cardholder.objects.exists()


def test_rows_read_from_a_file_import_cleanly(db):
    data = f"{HEADER}\nS2026009,周杰,student,CS,2030-07-01,,\n"
    rows = read_cardholder_rows(io.BytesIO(data.encode()), "list.csv")

    summary = cardholder_import(rows=rows, by=None)

    assert summary.created == 1
    unit = Cardholder.objects.get(number="S2026009").org_unit
    assert unit is not None and unit.code == "CS"


def test_a_file_that_is_neither_csv_nor_xlsx_is_refused():
    with pytest.raises(InvalidRequest, match=r"\.xls"):
        read_cardholder_rows(io.BytesIO(b"\xd0\xcf\x11\xe0"), "old-excel.xls")


def test_a_header_without_the_required_columns_is_refused():
    with pytest.raises(InvalidRequest, match="kind"):
        read_cardholder_rows(io.BytesIO(b"number,name\nS1,A\n"), "list.csv")


def test_a_broken_xlsx_is_refused_not_crashed_on():
    with pytest.raises(InvalidRequest):
        read_cardholder_rows(io.BytesIO(b"not a zip"), "list.xlsx")
