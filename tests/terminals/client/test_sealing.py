"""The client's helpers for programs that build records and requests themselves (the
benchmark, the test terminal): a record's TAC and a request's four headers."""

from __future__ import annotations

from terminals.client.protocol import record_tac, signed_headers
from tests.vectors import vectors


def test_a_records_tac_covers_its_protocol_fields_and_not_the_others():
    v = vectors()["tacs"][0]
    uploaded = {**v["record"], "key_version": 1, "load_id": "L-1", "tac": "0" * 16}

    assert record_tac(bytes.fromhex(v["card_key"]), uploaded, v["terminal_id"]) == v["tac"]
    assert record_tac(bytes.fromhex(v["card_key"]), {**uploaded, "amount": 1},
                      v["terminal_id"]) != v["tac"]


def test_signed_headers_carry_the_vector_signature_at_the_vector_time_and_nonce():
    v = vectors()["signatures"][0]

    headers = signed_headers("POS-0001", v["secret"], v["method"], v["path"], v["body"].encode(),
                             timestamp=v["timestamp"], nonce=v["nonce"])

    assert headers == {"X-Terminal-Id": "POS-0001", "X-Timestamp": str(v["timestamp"]),
                       "X-Nonce": v["nonce"], "X-Signature": v["signature"]}


def test_each_set_of_signed_headers_has_its_own_nonce():
    first, second = (signed_headers("POS-0001", "ab" * 32, "GET", "/x", b"", timestamp=1)
                     for _ in range(2))

    assert first["X-Nonce"] != second["X-Nonce"]
    assert first["X-Signature"] != second["X-Signature"]
