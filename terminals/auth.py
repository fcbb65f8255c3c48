"""Terminal request authentication, terminal-protocol.md §2, checked in the contract's
order: terminal_unknown, bad_signature, clock_skew, replayed_nonce; then a disabled
terminal gets 403 terminal_disabled."""

from __future__ import annotations

import datetime as dt
import hmac
import random
import re
import time
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts import crypto
from terminals.errors import (
    BadSignature,
    BatchTooLarge,
    ClockSkew,
    ReplayedNonce,
    TerminalDisabled,
    TerminalUnknown,
)
from terminals.models import Nonce, Terminal, TerminalStatus
from terminals.services import terminal_secret

MAX_SKEW_S = 300
NONCE_WINDOW_S = 600
_NONCE = re.compile(r"^[0-9a-fA-F]{16,64}$")
_TERMINAL_ID = re.compile(r"^[A-Za-z0-9-]{1,32}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
_PURGE_EVERY = 500  # requests, on average, between purges of old nonces in a process


@dataclass
class TerminalPrincipal:
    """What `request.user` is for a terminal: not a person, but authenticated."""

    terminal: Terminal
    is_authenticated: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    pk: None = None

    def get_username(self) -> str:
        return f"terminal:{self.terminal.terminal_id}"

    def __str__(self) -> str:
        return self.get_username()


_secrets: dict[tuple[int, bytes], bytes] = {}


def _secret(terminal: Terminal) -> bytes:
    """Unwrapped secrets are kept per process, keyed by the wrapped bytes, so a rotated
    secret is picked up at once."""
    key = (terminal.pk, bytes(terminal.secret_wrapped))
    secret = _secrets.get(key)
    if secret is None:
        secret = _secrets[key] = terminal_secret(terminal)
    return secret


def path_as_sent(request: Any) -> str:
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if raw:
        return str(raw)
    query = request.META.get("QUERY_STRING", "")
    return request.path + (f"?{query}" if query else "")


def terminal_authenticate(
    *, terminal_id: str, timestamp: str, nonce: str, signature: str, method: str,
    path_with_query: str, body: bytes, now: float | None = None,
) -> Terminal:
    if not _TERMINAL_ID.match(terminal_id or ""):
        raise TerminalUnknown()
    terminal = Terminal.objects.select_related("merchant").filter(terminal_id=terminal_id).first()
    if terminal is None:
        raise TerminalUnknown()
    if not (_SIGNATURE.match(signature or "") and _NONCE.match(nonce or "")
            and re.fullmatch(r"-?[0-9]{1,12}", timestamp or "")):
        raise BadSignature()
    expected = hmac.new(
        _secret(terminal),
        crypto.canonical_request(method, path_with_query, timestamp, nonce, body).encode("utf-8"),
        "sha256",
    ).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise BadSignature()
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > MAX_SKEW_S:
        raise ClockSkew(server_time=int(now))
    if not _nonce_fresh(terminal, nonce.lower()):
        raise ReplayedNonce()
    if terminal.status != TerminalStatus.ACTIVE:
        raise TerminalDisabled()
    return terminal


# The nonce's own commit does not wait for its WAL to reach the disk (PostgreSQL's
# synchronous_commit off, for that one statement's transaction). Under a bulk upload the
# WAL flush queue is long, and a door check or a live sale would wait in it for a row
# that guards nothing durable: a crash can lose only the last fraction of a second of
# nonces (wal_writer_delay), so at worst a request signed just before the crash could be
# replayed once, and every terminal request is idempotent (records by seq, loads by id)
# or a read. A request that writes commits synchronously itself, which flushes its
# nonce with it.
_ASYNC_COMMIT = " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"


def _nonce_fresh(terminal: Terminal, nonce: str) -> bool:
    """Insert the nonce in its own statement (autocommit): the unique index makes the
    check hold across every server process."""
    now = timezone.now()
    with connection.cursor() as cur:
        if random.randrange(_PURGE_EVERY) == 0:
            cur.execute(
                "DELETE FROM terminals_nonce WHERE at < %s",
                [now - dt.timedelta(seconds=NONCE_WINDOW_S)],
            )
        cur.execute(
            "INSERT INTO terminals_nonce (terminal_id, nonce, at) "
            f"SELECT %s, %s, %s{_ASYNC_COMMIT if connection.vendor == 'postgresql' else ''} "
            "ON CONFLICT (terminal_id, nonce) DO UPDATE SET at = EXCLUDED.at "
            "WHERE terminals_nonce.at < %s RETURNING id",
            [terminal.pk, nonce, now, now - dt.timedelta(seconds=NONCE_WINDOW_S)],
        )
        return cur.fetchone() is not None


class TerminalSignatureAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[TerminalPrincipal, Terminal]:
        django_request = request._request
        try:
            body = django_request.body
        except RequestDataTooBig as exc:  # above Django's own limit (2.5 MiB): still a 413
            raise BatchTooLarge() from exc
        headers = django_request.headers
        terminal = terminal_authenticate(
            terminal_id=headers.get("X-Terminal-Id", ""),
            timestamp=headers.get("X-Timestamp", ""),
            nonce=headers.get("X-Nonce", ""),
            signature=headers.get("X-Signature", ""),
            method=django_request.method or "GET",
            path_with_query=path_as_sent(django_request),
            body=body,
        )
        return TerminalPrincipal(terminal=terminal), terminal

    def authenticate_header(self, request: Request) -> str:
        return "OneCard-HMAC-SHA256"


__all__ = ["Nonce", "TerminalSignatureAuthentication", "terminal_authenticate"]


class TerminalSignatureScheme(OpenApiAuthenticationExtension):
    """Describes the signed-request scheme in the OpenAPI schema."""

    target_class = TerminalSignatureAuthentication
    name = "TerminalSignature"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey", "in": "header", "name": "X-Signature",
            "description": (
                "HMAC-SHA256 of the canonical request (terminal-protocol.md §2) with the "
                "headers X-Terminal-Id, X-Timestamp and X-Nonce."
            ),
        }
