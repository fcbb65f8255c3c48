"""Every GET of the API, every query parameter, malformed values (issue 10 §4): never a
5xx, and a parameter that has a type is refused with 400 `invalid_request` whose `fields`
names it.

The endpoints and their parameters come from the OpenAPI schema (drf-spectacular's
SchemaGenerator), so a new endpoint is walked without being listed here: staff endpoints
as an admin, /api/v1/me... as a cardholder, /api/v1/terminal/... as a signed kiosk. Each
endpoint also gets the query parameters clients commonly send (USUAL), documented or not;
those it does not document must merely not break it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.api.serializers import MAX_INTEGER
from tests.factories import StaffFactory, make_card, make_cardholder, make_merchant
from tests.terminals.protocol import terminal_for

pytestmark = pytest.mark.django_db

MALFORMED = ["null", "x", "\x00", "%00", "9" * 40, "-1", ""]
# Sent to every GET besides its documented parameters.
USUAL = ["page", "page_size", "date", "from", "to", "since", "status", "format", "month",
         "code", "kind", "q", "card_no", "cardholder", "clerk"]
# Documented as plain strings, read by the server as a date or an ISO 8601 moment.
READ_AS = {"from": "moment", "to": "moment"}

SCHEMA: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)


def audience(path: str) -> str:
    if path.startswith("/api/v1/terminal/"):
        return "terminal"
    if path == "/api/v1/me" or path.startswith("/api/v1/me/"):
        return "holder"
    return "staff"


def query_parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}


def cases() -> list[Any]:
    found = []
    for path, operations in sorted(SCHEMA["paths"].items()):
        if "get" not in operations:
            continue
        documented = query_parameters(operations["get"])
        for name in [*documented, *(n for n in USUAL if n not in documented)]:
            found.append(pytest.param(path, name, id=f"{path}?{name}",
                                      marks=EXPECTED_FAILURES.get((path, name), ())))
    return found


# --- What a value of a type is --------------------------------------------------------------


def kind_of(name: str, schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "enum"
    if schema.get("type") == "integer":
        return "integer"
    if schema.get("format") == "date":
        return "date"
    if schema.get("format") == "date-time":
        return "moment"
    if "pattern" in schema:
        return "pattern"
    return READ_AS.get(name, "text")


def _is_date(value: str) -> bool:
    try:
        return bool(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)) and bool(
            dt.date.fromisoformat(value))
    except ValueError:
        return False


def _is_moment(value: str) -> bool:
    try:
        return _is_date(value) or bool(dt.datetime.fromisoformat(value))
    except ValueError:
        return False


def refused(kind: str, schema: dict[str, Any], value: str, *, required: bool) -> bool:
    """Whether the server must answer 400 naming the parameter for this value."""
    if "\x00" in value:
        return True  # whatever the type
    if value == "":
        return required  # an empty value is an absent one
    if kind == "enum":
        return value not in schema["enum"]
    if kind == "integer":
        if not re.fullmatch(r"-?[0-9]+", value):
            return True
        number = int(value)
        return not (schema.get("minimum", -MAX_INTEGER) <= number
                    <= schema.get("maximum", MAX_INTEGER))
    if kind == "date":
        return not _is_date(value)
    if kind == "moment":
        return not _is_moment(value)
    if kind == "pattern":
        return not re.search(schema["pattern"], value)
    return False


# --- The world the walk calls -----------------------------------------------------------------


@dataclass
class World:
    send: dict[str, Callable[[str], Any]]
    path_values: dict[str, str]


def _client(user: Any) -> APIClient:
    client = APIClient(raise_request_exception=False)  # a 5xx is an answer to look at
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def world(purse_key: Any) -> World:
    admin = StaffFactory(role="admin")
    holder = make_cardholder(by=admin, password="portal-pw-2026")
    card = make_card(by=admin, cardholder=holder)
    merchant = make_merchant(by=admin, code="C1")
    kiosk = terminal_for(Client(raise_request_exception=False), "kiosk", by=admin)
    staff, portal = _client(admin), _client(holder.user)
    return World(
        send={"staff": staff.get, "holder": portal.get, "terminal": kiosk.get},
        path_values={"card_no": card.card_no, "number": holder.number, "code": merchant.code,
                     "terminal_id": kiosk.terminal_id},
    )


def fill(path: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"{path}: give the walk a value for the path parameter {name}"
        return values[name]

    return re.sub(r"\{(\w+)\}", value, path)


def good_value(name: str, parameter: dict[str, Any], world: World) -> str:
    schema = parameter.get("schema", {})
    kind = kind_of(name, schema)
    if name in world.path_values:
        return world.path_values[name]
    if kind == "enum":
        return str(schema["enum"][0])
    if kind == "integer":
        return str(max(schema.get("minimum", 1), 1))
    if kind in ("date", "moment"):
        return timezone.localdate().isoformat()
    if "example" in schema:
        return str(schema["example"])
    return "x"


def ask(world: World, who: str, path: str, query: dict[str, str]) -> Any:
    """One GET in a savepoint of its own, so that a failed statement spoils only itself."""
    url = path + (f"?{urlencode(query)}" if query else "")
    savepoint = transaction.savepoint()
    answer = world.send[who](url)
    if answer.status_code >= 500:
        transaction.savepoint_rollback(savepoint)
    else:
        transaction.savepoint_commit(savepoint)
    return answer


def error_of(answer: Any) -> dict[str, Any]:
    try:
        return dict(answer.json()["error"])
    except (ValueError, KeyError, TypeError):
        return {}


# --- The walk ---------------------------------------------------------------------------------


# (path, parameter) -> marks: cases known to fail, each with its reason.
EXPECTED_FAILURES: dict[tuple[str, str], Any] = {}


@pytest.mark.parametrize(("path", "name"), cases())
def test_a_malformed_query_value_is_refused_or_ignored_never_a_server_error(
        world: World, path: str, name: str) -> None:
    operation = SCHEMA["paths"][path]["get"]
    documented = query_parameters(operation)
    parameter = documented.get(name)
    who, url = audience(path), fill(path, world.path_values)
    # The other required parameters get good values, so that only `name` can be at fault.
    others = {n: good_value(n, p, world) for n, p in documented.items()
              if p.get("required") and n != name}
    problems = []
    for value in MALFORMED:
        answer = ask(world, who, url, {**others, name: value})
        error = error_of(answer)
        shown = f"{name}={value!r}: {answer.status_code} {error or answer.content[:200]!r}"
        if answer.status_code >= 500:
            problems.append(f"server error: {shown}")
            continue
        if parameter is None:
            continue
        schema = parameter.get("schema", {})
        must_refuse = refused(kind_of(name, schema), schema, value,
                              required=bool(parameter.get("required")))
        named = name in (error.get("fields") or {})
        if must_refuse and not (answer.status_code == 400
                                and error.get("code") == "invalid_request" and named):
            problems.append(f"not refused with 400 invalid_request naming it: {shown}")
        elif answer.status_code == 400 and error.get("field") == name and not named:
            problems.append(f"400 without `fields` naming it: {shown}")

    assert not problems, f"GET {path}\n" + "\n".join(problems)


def test_the_walk_covers_every_get_of_every_audience() -> None:
    paths = [p for p, ops in SCHEMA["paths"].items() if "get" in ops]

    assert {audience(p) for p in paths} == {"staff", "holder", "terminal"}
    assert "/api/v1/exceptions" in paths and "/api/v1/terminal/blacklist" in paths


@pytest.mark.parametrize(("kind", "schema", "value", "expected"), [
    ("integer", {"minimum": 1}, "-1", True),
    ("integer", {}, "-1", False),
    ("integer", {}, "9" * 40, True),
    ("date", {}, "2026-02-30", True),
    ("date", {}, "2026-02-28", False),
    ("moment", {}, "2026-02-28T08:00:00+08:00", False),
    ("enum", {"enum": ["open"]}, "null", True),
    ("text", {}, "%00", False),
    ("text", {}, "\x00", True),
    ("text", {}, "", False),
])
def test_what_the_walk_expects_refused(kind: str, schema: dict[str, Any], value: str,
                                       expected: bool) -> None:
    assert refused(kind, schema, value, required=False) is expected


# --- The reported case and the shared rules, one by one ------------------------------------


def test_exceptions_on_date_null_is_a_400_naming_date_not_a_500(world: World) -> None:
    answer = ask(world, "staff", "/api/v1/exceptions", {"date": "null"})

    assert answer.status_code == 400
    assert error_of(answer)["code"] == "invalid_request"
    assert (error_of(answer)["field"], list(error_of(answer)["fields"])) == ("date", ["date"])


def test_a_parameter_given_twice_is_refused(world: World) -> None:
    answer = world.send["staff"]("/api/v1/exceptions?status=open&status=resolved")

    assert answer.status_code == 400
    assert list(error_of(answer)["fields"]) == ["status"]


@pytest.mark.parametrize(("query", "status"), [
    ({"page": "1"}, 200), ({"page": "2"}, 404), ({"page": "0"}, 400), ({"page": "1.0"}, 400),
    ({"page_size": "500"}, 200), ({"page_size": "501"}, 400), ({"page_size": "0"}, 400),
])
def test_pages_are_counted_from_1_and_a_page_past_the_last_is_not_found(
        world: World, query: dict[str, str], status: int) -> None:
    answer = ask(world, "staff", "/api/v1/merchants", query)

    assert answer.status_code == status
    if status == 400:
        assert list(error_of(answer)["fields"]) == list(query)
