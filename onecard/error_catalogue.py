"""Every error code the house answers with, gathered from the apps' error catalogues
(`core.errors`, `accounts.errors`, `terminals.errors`, `settlement.errors`), and the
OpenAPI hook that lists them on the error body's `code`.

It lives on the top floor because it reads every app; core cannot import them.
"""

from __future__ import annotations

from typing import Any

from access import errors as access_errors
from accounts import errors as accounts_errors
from attendance import errors as attendance_errors
from core import errors as core_errors
from core.api.serializers import ErrorBodyOutput
from core.errors import _DRF_CODES, DomainError
from settlement import errors as settlement_errors
from terminals import errors as terminals_errors

CATALOGUES = (core_errors, accounts_errors, terminals_errors, settlement_errors, access_errors,
              attendance_errors)

# Not a class's: the answer of an unhandled exception (core.errors.json_server_error).
SERVER_ERROR = "server_error"


def domain_errors() -> list[type[DomainError]]:
    """Every subclass of DomainError that sets its own `code`, wherever it is defined
    (a class that only groups others, such as Conflict, has none)."""
    found: list[type[DomainError]] = []
    pending = [DomainError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                pending.append(sub)
                if "code" in vars(sub):
                    found.append(sub)
    return sorted(found, key=lambda c: (c.__module__, c.code))


def error_codes() -> list[str]:
    """Every code of an error body: the domain errors', DRF's own (core.errors maps its
    exceptions to codes), DomainError's fallback `error` and `server_error`."""
    codes = {cls.code for cls in domain_errors()}
    codes |= {code for _exception, code in _DRF_CODES}
    codes |= {DomainError.code, SERVER_ERROR}
    return sorted(codes)


def error_code_enum(result: dict[str, Any], generator: Any, request: Any,
                    public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the error body's `code` lists every code."""
    body = result.get("components", {}).get("schemas", {}).get(ErrorBodyOutput.__name__)
    if body is not None:
        body["properties"]["code"].update(
            enum=error_codes(),
            description="Every code of the API; each operation's error answers name the "
                        "codes it gives.",
        )
    return result
