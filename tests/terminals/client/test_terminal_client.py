"""A terminal's signed requests, as a server on a real socket receives them."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import time

import pytest

from terminals.client.http import ProtocolError, TerminalClient, Unreachable
from tests.terminals.client.stub_server import StubServer, expected_signature
from tests.vectors import vectors

SECRET = "aa" * 32
TID = "POS-0001"


@pytest.fixture
def server():
    with StubServer({TID: SECRET}) as stub:
        yield stub


@pytest.fixture
def client(server):
    return TerminalClient(server.url, TID, SECRET, timeout=5)


def test_the_servers_own_check_reproduces_the_published_signatures():
    for v in vectors()["signatures"]:
        assert expected_signature(v["secret"], v["method"], v["path"], str(v["timestamp"]),
                                  v["nonce"], v["body"].encode()) == v["signature"]


def test_every_request_carries_the_four_headers_and_a_valid_signature(server, client):
    client.config()
    client.blacklist(since=0)
    client.pending_loads("20260001")
    client.upload([{"type": "punch", "terminal_seq": 1, "ts": 1795000000, "card_no": "20260001"}])
    client.heartbeat(blacklist_version=0, last_seq=1, queued_records=0, faults=[])

    assert [s.status for s in server.state.seen] == [200] * 5
    assert all(s.signature_ok for s in server.state.seen)
    for seen in server.state.seen:
        assert seen.headers["x-terminal-id"] == TID
        assert re.fullmatch(r"[0-9a-f]{32}", seen.headers["x-nonce"])
        assert re.fullmatch(r"[0-9a-f]{64}", seen.headers["x-signature"])
        assert abs(int(seen.headers["x-timestamp"]) - time.time()) < 5
    nonces = {s.headers["x-nonce"] for s in server.state.seen}
    assert len(nonces) == 5, "a fresh nonce for every request"


def test_the_signature_covers_the_path_with_its_query_and_the_exact_body_bytes(server, client):
    client.blacklist(since=118)
    client.upload([{"type": "punch", "terminal_seq": 7, "ts": 1795000000, "card_no": "20260001"}])

    get, post = server.state.seen
    assert get.path == "/api/v1/terminal/blacklist?since=118"
    assert get.body == b""
    assert post.body == (
        b'{"records":[{"type":"punch","terminal_seq":7,"ts":1795000000,"card_no":"20260001"}]}'
    )
    h = post.headers
    assert h["x-signature"] == expected_signature(
        SECRET, "POST", "/api/v1/terminal/records", h["x-timestamp"], h["x-nonce"], post.body
    )
    assert hashlib.sha256(b"").hexdigest() in "\n".join(
        ["GET", get.path, get.headers["x-timestamp"], get.headers["x-nonce"],
         hashlib.sha256(get.body).hexdigest()]
    )


def test_a_wrong_secret_is_refused_by_the_server_with_bad_signature(server):
    impostor = TerminalClient(server.url, TID, "bb" * 32)
    with pytest.raises(ProtocolError) as info:
        impostor.config()
    assert (info.value.status, info.value.code) == (401, "bad_signature")


def test_an_unknown_terminal_gets_terminal_unknown(server):
    stranger = TerminalClient(server.url, "POS-9999", SECRET)
    with pytest.raises(ProtocolError) as info:
        stranger.blacklist(since=0)
    assert info.value.code == "terminal_unknown"
    assert info.value.body["error"]["code"] == "terminal_unknown"


def test_a_terminal_with_a_slow_clock_learns_the_offset_from_clock_skew_and_retries(server):
    server.state.clock_offset = 3600  # the terminal's clock is an hour behind
    client = TerminalClient(server.url, TID, SECRET)

    answer = client.config()

    assert answer["terminal_id"] == TID
    first, second = server.state.seen
    assert first.status == 401 and second.status == 200
    assert abs(client.clock_offset - 3600) <= 1
    assert abs(int(second.headers["x-timestamp"]) - server.state.now()) <= 1
    assert first.headers["x-nonce"] != second.headers["x-nonce"]
    client.blacklist(since=0)  # later requests use the learnt offset at once
    assert server.state.seen[-1].status == 200 and len(server.state.seen) == 3


def test_other_errors_are_not_retried_and_carry_status_and_code(server, client):
    server.state.fail_next = [503]
    with pytest.raises(ProtocolError) as info:
        client.config()
    assert (info.value.status, info.value.code) == (503, "injected")
    assert len(server.state.seen) == 1


def test_a_replayed_nonce_would_be_refused_so_each_request_has_its_own(server, client):
    for _ in range(20):
        client.blacklist(since=0)
    assert all(s.status == 200 for s in server.state.seen)


def test_a_dropped_connection_or_a_closed_port_is_unreachable(server, client):
    server.state.fail_next = ["drop"]
    with pytest.raises(Unreachable):
        client.config()

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Unreachable):
        TerminalClient(f"http://127.0.0.1:{port}", TID, SECRET, timeout=1).config()


def test_a_server_that_does_not_answer_in_time_is_unreachable():
    with socket.socket() as listener:  # accepts the connection, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = TerminalClient(f"http://127.0.0.1:{port}", TID, SECRET, timeout=0.3)
        with pytest.raises(Unreachable):
            client.config()


def test_access_check_and_heartbeat_send_json_bodies(server, client):
    with pytest.raises(ProtocolError) as info:  # the stub has no access endpoints
        client.access_check("20260001", 2, 1795000000)
    assert info.value.status == 404
    seen = server.state.seen[-1]
    assert json.loads(seen.body) == {"card_no": "20260001", "door": 2, "ts": 1795000000}
    assert seen.headers["content-type"] == "application/json"

    client.heartbeat(blacklist_version=3, faults=[])
    beat = server.state.heartbeats[-1]
    assert beat["blacklist_version"] == 3 and isinstance(beat["ts"], int)


def test_a_malformed_secret_is_refused_before_any_request():
    with pytest.raises(ValueError):
        TerminalClient("http://127.0.0.1:1", TID, "not-hex")


@pytest.mark.parametrize("answer", [
    {"results": [], "highest_contiguous_seq": 1},  # a result missing
    {"results": [{"terminal_seq": 1, "status": "accepted"}]},  # no highest_contiguous_seq
    {"results": [{"terminal_seq": 1, "status": "accepted"}], "highest_contiguous_seq": "1"},
])
def test_an_upload_answer_that_does_not_cover_the_batch_is_never_taken_at_its_word(answer):
    """Terminals forget records on the answer's word, so a garbled 200 is a ProtocolError."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Garbled(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Garbled) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        client = TerminalClient(f"http://127.0.0.1:{httpd.server_address[1]}", TID, SECRET)
        with pytest.raises(ProtocolError) as info:
            client.upload([{"type": "punch", "terminal_seq": 1, "ts": 1, "card_no": "12345678"}])
        httpd.shutdown()
    assert info.value.code == "bad_answer"
