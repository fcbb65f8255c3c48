"""One error catalogue per app: every error code is defined once, in an app's errors.py,
and the OpenAPI document names it. No database."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.errors import DomainError
from onecard.error_catalogue import CATALOGUES, domain_errors, error_codes

CATALOGUE_MODULES = {module.__name__ for module in CATALOGUES}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_catalogues_are_the_five_apps_errors_modules() -> None:
    apps = {"core", "accounts", "terminals", "settlement", "access", "attendance"}

    assert {f"{app}.errors" for app in apps} == CATALOGUE_MODULES


def test_the_walk_finds_errors_at_every_depth() -> None:
    found = set(domain_errors())

    assert {cls.__name__ for cls in found} >= {
        "InvalidRequest",  # a direct subclass
        "InvalidStatus",  # under Conflict, which sets no code of its own
        "UnknownCardholder",  # under InvalidRequest, with a code of its own
        "TerminalUnknown",  # under TerminalAuthFailed
    }
    assert DomainError not in found
    assert all("code" in vars(cls) for cls in found)


def test_no_two_error_classes_share_a_code() -> None:
    by_code: dict[str, list[str]] = {}
    for cls in domain_errors():
        by_code.setdefault(cls.code, []).append(f"{cls.__module__}.{cls.__qualname__}")

    assert {code: names for code, names in by_code.items() if len(names) > 1} == {}


def test_every_error_class_is_defined_in_its_apps_catalogue() -> None:
    strays = [f"{cls.__module__}.{cls.__qualname__}" for cls in domain_errors()
              if cls.__module__ not in CATALOGUE_MODULES]

    assert strays == []


def test_every_code_is_in_the_openapi_document(schema: dict[str, Any]) -> None:
    text = json.dumps(schema)

    assert [code for code in error_codes() if json.dumps(code) not in text] == []


def test_the_error_body_lists_every_code(schema: dict[str, Any]) -> None:
    code = schema["components"]["schemas"]["ErrorBodyOutput"]["properties"]["code"]

    assert code["enum"] == error_codes()
    assert {"invalid_status", "bad_signature", "proposal_differs", "malformed_body",
            "forbidden", "server_error"} <= set(code["enum"])


def test_every_code_an_operation_documents_exists(schema: dict[str, Any]) -> None:
    known = set(error_codes())
    documented: dict[str, set[str]] = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                description = response.get("description", "")
                if status.startswith(("4", "5")) and description.startswith("Error codes:"):
                    for code in re.findall(r"`([^`]+)`", description):
                        documented.setdefault(code, set()).add(f"{method.upper()} {path}")

    assert {code: where for code, where in documented.items() if code not in known} == {}
