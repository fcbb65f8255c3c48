"""`TerminalClient`: signed HTTP requests to the terminal API (terminal-protocol.md §2, §5).

Every request is prepared first and then signed over exactly what goes on the wire:
the path with its query as `requests` encoded it, and the body bytes serialised once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import requests

from terminals.client.protocol import encode_json, signed_headers

API_PREFIX = "/api/v1/terminal"
CLOCK_SKEW = "clock_skew"


class ClientError(Exception):
    """Anything that kept a request from getting a good answer."""


class Unreachable(ClientError):
    """No answer: the network, a timeout, or the server is down. Nothing is known to
    have changed; retry the same request later."""


class ProtocolError(ClientError):
    """The server answered with an error status (4xx/5xx); `code` is its error code."""

    def __init__(self, status: int, code: str, body: Any) -> None:
        self.status = status
        self.code = code
        self.body = body
        message = ""
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message = str(body["error"].get("message", ""))
        super().__init__(f"{status} {code}: {message}".rstrip(": "))


def _error_code(status: int, body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code", f"http_{status}"))
    return f"http_{status}"


def _server_time(body: Any) -> int | None:
    """`server_time` of a clock_skew answer: inside `error`, or beside it."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    for holder in (error if isinstance(error, dict) else {}, body):
        value = holder.get("server_time")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


class TerminalClient:
    """One terminal's signed conversation with the server.

    `clock_offset` (seconds) is added to the terminal's clock in `X-Timestamp`; it is
    learnt from a 401 `clock_skew` answer, after which the request is sent once more
    (an error answer changed nothing, so the retry is safe)."""

    def __init__(
        self,
        server_url: str,
        terminal_id: str,
        secret_hex: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 10,
        clock_offset: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        bytes.fromhex(secret_hex)  # fail early on a malformed secret
        self.server_url = server_url.rstrip("/")
        self.terminal_id = terminal_id
        self._secret_hex = secret_hex
        self.session = session or requests.Session()
        self.timeout = timeout
        self.clock_offset = clock_offset
        self._clock = clock

    def timestamp(self) -> int:
        return int(self._clock()) + self.clock_offset

    # --- Endpoints ------------------------------------------------------------------------

    def upload(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The server's answer, checked to hold one result per record and a
        `highest_contiguous_seq` (ProtocolError `bad_answer` otherwise): callers forget
        records on its word."""
        answer = self.request("POST", "/records", body={"records": list(records)})
        results, hcs = answer.get("results"), answer.get("highest_contiguous_seq")
        if (not isinstance(results, list) or len(results) != len(records)
                or not isinstance(hcs, int) or isinstance(hcs, bool)):
            raise ProtocolError(200, "bad_answer", answer)
        return answer

    def blacklist(self, since: int) -> dict[str, Any]:
        return self.request("GET", "/blacklist", params={"since": since})

    def access_list(self, since: int) -> dict[str, Any]:
        return self.request("GET", "/access-list", params={"since": since})

    def access_check(self, card_no: str, door: int, ts: int) -> dict[str, Any]:
        return self.request(
            "POST", "/access-check", body={"card_no": card_no, "door": door, "ts": ts}
        )

    def pending_loads(self, card_no: str) -> dict[str, Any]:
        return self.request("GET", "/pending-loads", params={"card_no": card_no})

    def config(self) -> dict[str, Any]:
        return self.request("GET", "/config")

    def heartbeat(self, **fields: Any) -> dict[str, Any]:
        return self.request("POST", "/heartbeat", body={"ts": self.timestamp(), **fields})

    # --- Signing and sending --------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        """Send a signed request to API_PREFIX + path; the JSON answer, or an exception."""
        url = self.server_url + API_PREFIX + path
        if params:
            url += "?" + urlencode(params)
        raw = b"" if body is None else encode_json(body)
        try:
            return self._send(method, url, raw)
        except ProtocolError as exc:
            server_time = _server_time(exc.body)
            if exc.status != 401 or exc.code != CLOCK_SKEW or server_time is None:
                raise
            self.clock_offset = server_time - int(self._clock())
            return self._send(method, url, raw)

    def _send(self, method: str, url: str, raw: bytes) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if raw:
            headers["Content-Type"] = "application/json"
        prepared = self.session.prepare_request(
            requests.Request(method, url, data=raw or None, headers=headers)
        )
        prepared.headers.update(
            signed_headers(
                self.terminal_id,
                self._secret_hex,
                method,
                prepared.path_url,
                raw,
                timestamp=self.timestamp(),
            )
        )
        try:
            response = self.session.send(prepared, timeout=self.timeout)
        except requests.RequestException as exc:
            raise Unreachable(f"{method} {url}: {exc}") from exc
        return self._answer(response)

    @staticmethod
    def _answer(response: requests.Response) -> dict[str, Any]:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise ProtocolError(response.status_code, _error_code(response.status_code, body), body)
        if not isinstance(body, dict):
            raise ProtocolError(response.status_code, "not_json", body)
        return body
