"""Signed terminal requests (terminal-protocol.md §2): the vectors, every refusal in the
contract's order, and a terminal seeing only its own data."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from django.utils import timezone

from accounts import crypto
from accounts.keys import kek_get
from terminals.auth import terminal_authenticate
from terminals.client.protocol import sign_request
from terminals.models import Nonce, Terminal, TerminalStatus
from terminals.services import _secret_aad
from tests.terminals.protocol import RECORDS, SignedTerminal, terminal_for
from tests.vectors import vectors

pytestmark = pytest.mark.django_db

SIGNATURES = vectors()["signatures"]
CONFIG = "/api/v1/terminal/config"


def code(answer: Any) -> str:
    return answer.json()["error"]["code"]


def with_vector_secret(t: SignedTerminal, secret_hex: str) -> SignedTerminal:
    """Give the registered terminal the vector's secret, wrapped under the KEK as the
    registry stores every secret."""
    assert t.model is not None
    t.model.secret_wrapped = crypto.wrap_key(kek_get(), bytes.fromhex(secret_hex),
                                             aad=_secret_aad(t.terminal_id))
    t.model.save(update_fields=["secret_wrapped"])
    t.secret = secret_hex
    return t


# --- The vectors ------------------------------------------------------------------------


@pytest.mark.parametrize("vector", SIGNATURES, ids=[v["method"] for v in SIGNATURES])
def test_the_signature_vectors_are_reproduced_by_the_shared_signer(vector) -> None:
    body = vector["body"].encode()
    canonical = crypto.canonical_request(vector["method"], vector["path"], vector["timestamp"],
                                         vector["nonce"], body)

    assert canonical == vector["canonical"]
    assert crypto.sign_request(vector["secret"], vector["method"], vector["path"],
                               vector["timestamp"], vector["nonce"], body) == vector["signature"]


@pytest.mark.parametrize("vector", SIGNATURES, ids=[v["method"] for v in SIGNATURES])
def test_the_server_accepts_the_vector_signature_at_the_vector_time(client, vector) -> None:
    t = with_vector_secret(terminal_for(client, "pos"), vector["secret"])

    terminal = terminal_authenticate(
        terminal_id=t.terminal_id, timestamp=str(vector["timestamp"]), nonce=vector["nonce"],
        signature=vector["signature"], method=vector["method"], path_with_query=vector["path"],
        body=vector["body"].encode(), now=vector["timestamp"] + 10,
    )

    assert terminal.terminal_id == t.terminal_id


@pytest.mark.parametrize("vector", SIGNATURES, ids=[v["method"] for v in SIGNATURES])
def test_a_request_built_from_the_vector_canonical_form_now_is_accepted(client, vector) -> None:
    t = with_vector_secret(terminal_for(client, "pos"), vector["secret"])
    now = str(int(time.time()))
    # The vector's canonical lines, with only the timestamp brought to now, signed with
    # plain HMAC-SHA256 keyed by the secret's 32 bytes: independent of the shared signer.
    lines = vector["canonical"].split("\n")
    assert lines[2] == str(vector["timestamp"])
    lines[2] = now
    signature = hmac.new(bytes.fromhex(vector["secret"]), "\n".join(lines).encode(),
                         hashlib.sha256).hexdigest()
    headers = {"HTTP_X_TERMINAL_ID": t.terminal_id, "HTTP_X_TIMESTAMP": now,
               "HTTP_X_NONCE": vector["nonce"], "HTTP_X_SIGNATURE": signature}

    answer = client.generic(vector["method"], vector["path"], vector["body"].encode(),
                            content_type="application/json", **headers)

    if vector["method"] == "POST":  # authenticated; the empty batch itself is refused
        assert answer.status_code == 400 and code(answer) == "invalid_batch"
    else:
        assert answer.status_code == 200, answer.content
        assert answer.json()["full"] is True


# --- Refusals, in the contract's order --------------------------------------------------


def test_an_unknown_terminal_is_unknown_even_with_a_bad_signature(client) -> None:
    stranger = SignedTerminal(client, "POS-9999", "ab" * 32)

    answer = stranger.send("GET", CONFIG, X_Signature="0" * 64, timestamp=1)

    assert answer.status_code == 401
    assert code(answer) == "terminal_unknown"


def test_a_bad_signature_is_named_before_a_skewed_clock(client) -> None:
    t = terminal_for(client, "kiosk")

    answer = t.send("GET", CONFIG, secret="cd" * 32, timestamp=int(time.time()) - 3600)

    assert answer.status_code == 401
    assert code(answer) == "bad_signature"


def test_a_signature_with_another_terminals_secret_is_bad(client) -> None:
    t = terminal_for(client, "kiosk")
    other = terminal_for(client, "kiosk")

    answer = t.send("GET", CONFIG, secret=other.secret)

    assert (answer.status_code, code(answer)) == (401, "bad_signature")


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_a_clock_more_than_300_s_off_is_refused_with_the_server_time(client, offset) -> None:
    t = terminal_for(client, "kiosk")
    t.clock_offset = offset
    before = int(time.time())

    answer = t.get(CONFIG)

    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["code"] == "clock_skew"
    assert before <= error["server_time"] <= int(time.time())


@pytest.mark.parametrize("offset", [300, -299, 0])
def test_a_clock_within_300_s_is_fine(client, offset) -> None:
    t = terminal_for(client, "kiosk")
    t.clock_offset = offset

    assert t.get(CONFIG).status_code == 200


def test_the_same_nonce_twice_is_a_replay(client) -> None:
    t = terminal_for(client, "kiosk")
    nonce = "00112233445566778899aabbccddeeff"

    first = t.get(CONFIG, nonce=nonce)
    again = t.get(CONFIG, nonce=nonce)
    again_upper = t.get(CONFIG, nonce=nonce.upper())

    assert first.status_code == 200
    assert (again.status_code, code(again)) == (401, "replayed_nonce")
    assert (again_upper.status_code, code(again_upper)) == (401, "replayed_nonce")


def test_a_replayed_nonce_with_a_skewed_clock_is_clock_skew(client) -> None:
    t = terminal_for(client, "kiosk")
    nonce = "aa" * 16
    assert t.get(CONFIG, nonce=nonce).status_code == 200

    answer = t.get(CONFIG, nonce=nonce, timestamp=int(time.time()) + 400)

    assert code(answer) == "clock_skew"


def test_a_refused_request_does_not_use_up_its_nonce(client) -> None:
    t = terminal_for(client, "kiosk")
    nonce = "bb" * 16

    bad = t.send("GET", CONFIG, nonce=nonce, secret="cd" * 32)
    skewed = t.get(CONFIG, nonce=nonce, timestamp=int(time.time()) - 1000)
    good = t.get(CONFIG, nonce=nonce)

    assert (code(bad), code(skewed), good.status_code) == ("bad_signature", "clock_skew", 200)


def test_the_same_nonce_from_two_terminals_is_no_replay(client) -> None:
    first, second = terminal_for(client, "kiosk"), terminal_for(client, "kiosk")
    nonce = "cc" * 16

    assert first.get(CONFIG, nonce=nonce).status_code == 200
    assert second.get(CONFIG, nonce=nonce).status_code == 200


def test_a_nonce_is_accepted_again_after_600_s(client) -> None:
    t = terminal_for(client, "kiosk")
    nonce = "dd" * 16
    assert t.get(CONFIG, nonce=nonce).status_code == 200
    Nonce.objects.filter(nonce=nonce).update(at=timezone.now() - dt.timedelta(seconds=599))
    assert code(t.get(CONFIG, nonce=nonce)) == "replayed_nonce"

    Nonce.objects.filter(nonce=nonce).update(at=timezone.now() - dt.timedelta(seconds=601))
    again = t.get(CONFIG, nonce=nonce)
    replay = t.get(CONFIG, nonce=nonce)

    assert again.status_code == 200
    assert code(replay) == "replayed_nonce"  # and the window starts afresh


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ({"drop": ["X-Terminal-Id"]}, "terminal_unknown"),
        ({"X_Terminal_Id": "POS_0001!"}, "terminal_unknown"),
        ({"X_Terminal_Id": "P" * 33}, "terminal_unknown"),
        ({"drop": ["X-Signature"]}, "bad_signature"),
        ({"drop": ["X-Nonce"]}, "bad_signature"),
        ({"drop": ["X-Timestamp"]}, "bad_signature"),
        ({"drop": list(("X-Signature", "X-Nonce", "X-Timestamp"))}, "bad_signature"),
        ({"nonce": "zz" * 16}, "bad_signature"),
        ({"nonce": "a" * 15}, "bad_signature"),
        ({"nonce": "a" * 65}, "bad_signature"),
        ({"timestamp": "soon"}, "bad_signature"),
        ({"timestamp": "1.5e9"}, "bad_signature"),
        ({"timestamp": ""}, "bad_signature"),
        ({"X_Signature": "0" * 63}, "bad_signature"),
        ({"X_Signature": "not hex at all"}, "bad_signature"),
    ],
)
def test_malformed_headers_get_a_401_with_a_stable_code(client, damage, expected) -> None:
    t = terminal_for(client, "kiosk")

    answer = t.send("GET", CONFIG, **damage)

    assert answer.status_code == 401
    assert code(answer) == expected
    assert set(answer.json()["error"]) >= {"code", "message"}


def test_an_uppercase_signature_is_not_the_canonical_lowercase_hex(client) -> None:
    t = terminal_for(client, "kiosk")
    ts, nonce = str(int(time.time())), "ee" * 16
    upper = sign_request(t.secret, "GET", CONFIG, ts, nonce, b"").upper()

    answer = t.send("GET", CONFIG, timestamp=ts, nonce=nonce, X_Signature=upper)

    assert code(answer) == "bad_signature"


@pytest.mark.parametrize("status", [TerminalStatus.DISABLED, TerminalStatus.RETIRED])
def test_a_disabled_or_retired_terminal_is_refused_with_403(client, status) -> None:
    t = terminal_for(client, "kiosk")
    Terminal.objects.filter(terminal_id=t.terminal_id).update(status=status)

    answer = t.get(CONFIG)
    upload = t.upload([{"type": "punch", "terminal_seq": 1, "ts": 1, "card_no": "20260001"}])

    assert (answer.status_code, code(answer)) == (403, "terminal_disabled")
    assert (upload.status_code, code(upload)) == (403, "terminal_disabled")


def test_a_disabled_terminal_with_a_bad_signature_learns_nothing_more(client) -> None:
    t = terminal_for(client, "kiosk")
    Terminal.objects.filter(terminal_id=t.terminal_id).update(status=TerminalStatus.DISABLED)

    answer = t.send("GET", CONFIG, secret="cd" * 32)

    assert (answer.status_code, code(answer)) == (401, "bad_signature")


# --- What is signed -----------------------------------------------------------------------


def test_the_signed_path_includes_the_query_exactly_as_sent(client) -> None:
    t = terminal_for(client, "kiosk")
    path = "/api/v1/terminal/blacklist?since=0"

    without_query = t.send("GET", path, signed_path="/api/v1/terminal/blacklist")
    other_query = t.send("GET", path, signed_path="/api/v1/terminal/blacklist?since=1")
    exact = t.send("GET", path)

    assert (without_query.status_code, code(without_query)) == (401, "bad_signature")
    assert code(other_query) == "bad_signature"
    assert exact.status_code == 200


def test_the_signature_covers_the_method_and_the_body(client) -> None:
    t = terminal_for(client, "attendance")
    body = json.dumps({"records": [{"type": "punch", "terminal_seq": 1, "ts": 1,
                                    "card_no": "20260001"}]}).encode()
    ts, nonce = str(int(time.time())), "ff" * 16
    signature = sign_request(t.secret, "POST", RECORDS, ts, nonce, body)

    tampered = t.send("POST", RECORDS, body.replace(b'"ts": 1', b'"ts": 2'), timestamp=ts,
                      nonce=nonce, X_Signature=signature)
    as_get = t.send("POST", RECORDS, body, X_Signature=sign_request(
        t.secret, "GET", RECORDS, ts, "ab" * 16, body), timestamp=ts, nonce="ab" * 16)

    assert code(tampered) == "bad_signature"
    assert code(as_get) == "bad_signature"


# --- A terminal sees only its own data ----------------------------------------------------


def test_config_answers_the_calling_terminal_only(client) -> None:
    pos = terminal_for(client, "pos", name="Canteen 1, window 1")
    kiosk = terminal_for(client, "kiosk", name="Library kiosk")

    mine = pos.get(CONFIG).json()
    theirs = kiosk.get(CONFIG).json()

    assert (mine["terminal_id"], mine["kind"], mine["name"]) == (
        pos.terminal_id, "pos", "Canteen 1, window 1")
    assert (theirs["terminal_id"], theirs["kind"]) == (kiosk.terminal_id, "kiosk")


def test_one_terminal_cannot_speak_for_another(client) -> None:
    pos = terminal_for(client, "pos")
    kiosk = terminal_for(client, "kiosk")
    # The kiosk claims to be the POS, signing with its own secret.
    impostor = SignedTerminal(client, pos.terminal_id, kiosk.secret)

    answer = impostor.upload([{"type": "punch", "terminal_seq": 1, "ts": 1, "card_no": "1" * 8}])

    assert (answer.status_code, code(answer)) == (401, "bad_signature")


def test_each_terminal_has_its_own_numbering(client) -> None:
    first = terminal_for(client, "attendance")
    second = terminal_for(client, "attendance")
    punch = {"type": "punch", "terminal_seq": 1, "ts": int(time.time()), "card_no": "20260001"}

    a = first.upload([punch]).json()
    b = second.upload([punch]).json()

    assert a["results"] == b["results"] == [{"terminal_seq": 1, "status": "accepted"}]
    assert first.model is not None and second.model is not None
    assert first.model.records.count() == second.model.records.count() == 1


@pytest.mark.parametrize("kind", ["door", "attendance", "pos"])
def test_pending_loads_are_only_for_terminals_that_write_loads(client, clerk, kind) -> None:
    t = terminal_for(client, kind)

    answer = t.get("/api/v1/terminal/pending-loads?card_no=20260001")

    assert (answer.status_code, code(answer)) == (403, "not_allowed_for_kind")
