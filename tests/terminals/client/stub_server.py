"""A small terminal-API server on a real socket (127.0.0.1), written straight from
terminal-protocol.md for testing the terminal side without the Django server.

It checks every request's signature on its own (hashlib/hmac, not the library under
test), records what it saw, and keeps records, a blacklist, config and pending loads
in memory. `fail_next` queues answers to give instead (an HTTP status, or "drop" to
close the connection without answering).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SKEW = 300


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    status: int = 0


@dataclass
class StubState:
    secrets: dict[str, str]
    clock_offset: int = 0  # the server's clock minus the real one
    seen: list[Seen] = field(default_factory=list)
    records: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    blacklist_log: list[tuple[str, str]] = field(default_factory=list)  # (card_no, add/remove)
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int | str | None] = field(default_factory=list)
    nonces: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> int:
        return int(time.time()) + self.clock_offset

    def blacklist_add(self, card_no: str) -> None:
        self.blacklist_log.append((card_no, "add"))

    def blacklist_remove(self, card_no: str) -> None:
        self.blacklist_log.append((card_no, "remove"))


def expected_signature(secret_hex: str, method: str, path: str, ts: str, nonce: str,
                       body: bytes) -> str:
    canonical = "\n".join([method, path, ts, nonce, hashlib.sha256(body).hexdigest()])
    return hmac.new(bytes.fromhex(secret_hex), canonical.encode(), hashlib.sha256).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        state = self.server.state
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        tid = headers.get("x-terminal-id", "")
        secret = state.secrets.get(tid)
        ok = secret is not None and hmac.compare_digest(
            expected_signature(secret, self.command, self.path, headers.get("x-timestamp", ""),
                               headers.get("x-nonce", ""), body),
            headers.get("x-signature", ""),
        )
        seen = Seen(self.command, self.path, headers, body, ok)
        with state.lock:
            state.seen.append(seen)
            failure = state.fail_next.pop(0) if state.fail_next else None
        if failure == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if isinstance(failure, int):
            return self._send(seen, failure, {"error": {"code": "injected", "message": "x"}})
        status, answer = self._authenticate(tid, secret, ok, headers)
        if status == 200:
            status, answer = self._route(tid, body)
        self._send(seen, status, answer)

    def _authenticate(self, tid: str, secret: str | None, ok: bool,
                      headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        state = self.server.state
        if secret is None:
            return 401, _error("terminal_unknown")
        if not ok:
            return 401, _error("bad_signature")
        if abs(state.now() - int(headers["x-timestamp"])) > SKEW:
            return 401, {"error": {"code": "clock_skew", "message": "x",
                                   "server_time": state.now()}}
        key = (tid, headers["x-nonce"])
        with state.lock:
            if key in state.nonces:
                return 401, _error("replayed_nonce")
            state.nonces.add(key)
        return 200, {}

    def _route(self, tid: str, body: bytes) -> tuple[int, dict[str, Any]]:
        state = self.server.state
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        route = url.path.removeprefix("/api/v1/terminal")
        with state.lock:
            if route == "/records" and self.command == "POST":
                return 200, _records(state, tid, json.loads(body)["records"])
            if route == "/blacklist":
                return 200, _blacklist(state, int(query["since"]))
            if route == "/config":
                return 200, {**state.config.get(tid, {"config_version": 1, "params": {}}),
                             "terminal_id": tid, "server_time": state.now()}
            if route == "/pending-loads":
                return 200, {"loads": list(state.pending.get(query["card_no"], []))}
            if route == "/heartbeat" and self.command == "POST":
                state.heartbeats.append(json.loads(body))
                version = state.config.get(tid, {}).get("config_version", 1)
                return 200, {"server_time": state.now(), "config_version": version,
                             "blacklist_version": len(state.blacklist_log)}
        return 404, _error("not_found")

    def _send(self, seen: Seen, status: int, answer: dict[str, Any]) -> None:
        seen.status = status
        raw = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def _error(code: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": code}}


def _records(state: StubState, tid: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    results = []
    for record in records:
        key = (tid, record["terminal_seq"])
        if key not in state.records:
            state.records[key] = record
            status = "accepted"
            if record.get("load_id"):
                loads = state.pending.get(record["card_no"], [])
                state.pending[record["card_no"]] = [
                    load for load in loads if load["load_id"] != record["load_id"]
                ]
        else:
            status = "duplicate" if state.records[key] == record else "conflict"
        results.append({"terminal_seq": record["terminal_seq"], "status": status})
    seqs = {seq for t, seq in state.records if t == tid}
    high = 0
    while high + 1 in seqs:
        high += 1
    return {"results": results, "highest_contiguous_seq": high}


def _blacklist(state: StubState, since: int) -> dict[str, Any]:
    version = len(state.blacklist_log)
    if since <= 0 or since > version:
        listed: set[str] = set()
        for card_no, action in state.blacklist_log:
            (listed.add if action == "add" else listed.discard)(card_no)
        return {"version": version, "full": True, "add": sorted(listed), "remove": []}
    last = dict(state.blacklist_log[since:])
    return {"version": version, "full": False,
            "add": sorted(c for c, a in last.items() if a == "add"),
            "remove": sorted(c for c, a in last.items() if a == "remove")}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: StubState


class StubServer:
    def __init__(self, secrets: dict[str, str]) -> None:
        self.state = StubState(secrets=secrets)
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.state = self.state
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
