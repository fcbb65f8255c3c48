"""The settlement API speaks the house dialect (issue 10 §3): its views read through
settlement/selectors.py and never query models; every POST takes an Idempotency-Key and
documents the errors it can answer; every GET documents the 400 of its query string."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator

import settlement.api

API_DIR = Path(settlement.api.__file__).parent
# A value for each path parameter, to find the view behind a schema path.
SAMPLE = {"card_no": "20260001", "terminal_id": "POS-0001", "terminal_seq": "1",
          "shift_id": "1", "exception_id": "1", "code": "C1", "number": "S1"}


def _sample(match: re.Match[str]) -> str:
    return SAMPLE.get(match.group(1), "1")  # "1" is enough to find most views


def settlement_operations() -> list[tuple[str, str, dict[str, Any]]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        view = resolve(re.sub(r"\{(\w+)\}", _sample, path)).func
        if view.__module__.startswith("settlement.api"):
            found += [(m, path, op) for m, op in operations.items() if m != "parameters"]
    return found


OPERATIONS = settlement_operations()


@pytest.mark.parametrize("source", sorted(API_DIR.glob("*.py")), ids=lambda p: p.name)
def test_settlement_views_do_not_query_models(source: Path) -> None:
    text = source.read_text(encoding="utf-8")

    assert ".objects" not in text


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS,
                         ids=[f"{m.upper()} {p}" for m, p, _op in OPERATIONS])
def test_each_operation_documents_its_errors_and_each_post_is_idempotent(
        method: str, path: str, operation: dict[str, Any]) -> None:
    responses = operation["responses"]

    assert {"400", "401", "403"} <= set(responses)
    if method == "post":
        assert any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
        assert "422" in responses and "idempotency_key_reused" in responses["422"]["description"]


def test_the_walk_found_the_settlement_api() -> None:
    assert {(m, p) for m, p, _op in OPERATIONS} >= {
        ("get", "/api/v1/exceptions"), ("post", "/api/v1/exceptions/{exception_id}/resolve"),
        ("post", "/api/v1/purchases/{terminal_id}/{terminal_seq}/refund"),
        ("get", "/api/v1/settlements"), ("post", "/api/v1/bank/statements"),
    }
