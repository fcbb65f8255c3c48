"""Reading cardholder files (CSV or XLSX) into raw rows for `services.cardholder_import`.

Only parsing lives here: which columns mean what, which encoding, which sheet. Checking
the values, and the all-or-nothing import, is the service's job. Row n of the result
is line n + 2 of the file (line 1 is the header), so the service's line numbers point
at the spreadsheet row a clerk sees.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import PurePath
from typing import IO, Any

from django.utils.translation import gettext as _

from accounts.services import IMPORT_COLUMNS
from core.errors import InvalidRequest

REQUIRED_COLUMNS = ("number", "name", "kind")

# Header spellings accepted for each column, compared after strip + lower-case.
HEADER_ALIASES: dict[str, str] = {
    **{column: column for column in IMPORT_COLUMNS},
    "学号": "number",
    "工号": "number",
    "学号/工号": "number",
    "编号": "number",
    "姓名": "name",
    "类别": "kind",
    "部门": "department",
    "院系": "department",
    "有效期": "valid_until",
    "电话": "phone",
    "手机": "phone",
    "邮箱": "email",
}

CSV_SUFFIXES = (".csv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")


def read_cardholder_rows(file_obj: IO[Any], filename: str) -> list[dict[str, Any]]:
    """The data rows of a cardholder file as dicts keyed by the canonical column names."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in CSV_SUFFIXES:
        table = _csv_table(file_obj.read())
    elif suffix in XLSX_SUFFIXES:
        table = _xlsx_table(file_obj)
    else:
        raise InvalidRequest(
            _("Unsupported file type %(suffix)s: upload a .csv or .xlsx file.")
            % {"suffix": suffix or filename},
            field="file",
        )
    return _rows_from_table(table)


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:  # what Excel on a Chinese Windows saves as "CSV"
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            _("The file is neither UTF-8 nor GB18030 text."), field="file"
        ) from exc


def _csv_table(data: bytes | str) -> list[list[Any]]:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _xlsx_table(file_obj: IO[Any]) -> list[list[Any]]:
    import openpyxl  # only the XLSX path needs it

    try:
        workbook = openpyxl.load_workbook(file_obj, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidRequest(_("The file is not a readable .xlsx workbook."), field="file") from exc
    try:
        sheet = workbook.active
        if sheet is None:
            return []
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _header_columns(header: Sequence[Any]) -> list[str | None]:
    columns: list[str | None] = []
    for cell in header:
        label = "" if cell is None else str(cell).strip().removeprefix("\ufeff").lower()
        column = HEADER_ALIASES.get(label)
        if column is not None and column in columns:
            raise InvalidRequest(
                _("The column %(column)s appears twice in the header.") % {"column": column},
                field="file",
            )
        columns.append(column)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InvalidRequest(
            _("The header row lacks the columns %(missing)s (expected %(expected)s).")
            % {"missing": ", ".join(missing), "expected": ",".join(IMPORT_COLUMNS)},
            field="file",
        )
    return columns


def _is_blank(row: Iterable[Any]) -> bool:
    return all(cell is None or str(cell).strip() == "" for cell in row)


def _cell(value: Any) -> Any:
    """Spreadsheet numbers that are whole (a number or phone typed as a number) become
    their digits; dates stay dates; everything else is left for the service to check."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _rows_from_table(table: list[list[Any]]) -> list[dict[str, Any]]:
    if not table or _is_blank(table[0]):
        raise InvalidRequest(_("The file has no header row."), field="file")
    columns = _header_columns(table[0])
    body = table[1:]
    while body and _is_blank(body[-1]):  # trailing empty rows left behind by spreadsheets
        body.pop()
    rows = []
    for values in body:
        row: dict[str, Any] = dict.fromkeys(IMPORT_COLUMNS, "")
        for column, value in zip(columns, values, strict=False):
            if column is not None:
                row[column] = _cell(value)
        rows.append(row)
    return rows
