"""File answers of the API (reports, statements): their content types and the one way an
attachment is sent."""

from __future__ import annotations

from django.http import HttpResponse

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_CONTENT_TYPE = "application/pdf"


def attachment(content: bytes, *, filename: str, content_type: str) -> HttpResponse:
    """`content` as a download named `filename`."""
    answer = HttpResponse(content, content_type=content_type)
    answer["Content-Disposition"] = f'attachment; filename="{filename}"'
    return answer
