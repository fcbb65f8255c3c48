"""Every published vector of the terminal protocol (vectors.json) through the terminal-side
library: a terminal vendor building from the spec would compute exactly these bytes."""

from __future__ import annotations

from typing import Any

import pytest

from terminals.client import protocol
from tests.vectors import vectors


def _each(name: str) -> list[Any]:
    return [pytest.param(v, id=f"{name}{i}") for i, v in enumerate(vectors()[name])]


def test_cmac_matches_rfc4493_example():
    v = vectors()["cmac_rfc4493"]
    mac = protocol.aes_cmac(bytes.fromhex(v["key"]), bytes.fromhex(v["message"]))
    assert mac.hex() == v["cmac"]


@pytest.mark.parametrize("v", _each("card_keys"))
def test_card_key_derivation_matches_vector(v):
    key = protocol.derive_card_key(
        bytes.fromhex(v["master_key"]), bytes.fromhex(v["uid"]), v["card_no"]
    )
    assert key.hex() == v["card_key"]


def test_card_key_derivation_refuses_a_master_key_that_is_not_aes_128():
    with pytest.raises(ValueError):
        protocol.derive_card_key(b"\x00" * 32, b"\x04\xa1\xb2\xc3", "20260001")


@pytest.mark.parametrize("v", _each("tacs"))
def test_tac_message_and_tac_match_vector(v):
    fields = {**v["record"], "terminal_id": v["terminal_id"]}
    assert protocol.tac_message(**fields) == v["message"]
    assert protocol.compute_tac(bytes.fromhex(v["card_key"]), **fields) == v["tac"]


@pytest.mark.parametrize("v", _each("signatures"))
def test_canonical_request_and_signature_match_vector(v):
    body = v["body"].encode("utf-8")
    args = (v["method"], v["path"], v["timestamp"], v["nonce"], body)
    assert protocol.canonical_request(*args) == v["canonical"]
    assert protocol.sign_request(v["secret"], *args) == v["signature"]


def test_signature_key_is_the_decoded_secret_not_its_hex_text():
    v = vectors()["signatures"][0]
    other = "AA" * 32  # the same bytes in upper case: the same key
    body = v["body"].encode()
    assert protocol.sign_request(other, "post", v["path"], v["timestamp"], v["nonce"], body) == (
        v["signature"]
    )


def test_request_bodies_are_serialised_compactly_once():
    assert protocol.encode_json({"records": []}) == vectors()["signatures"][0]["body"].encode()
    assert len(protocol.new_nonce()) == 32
    assert protocol.new_nonce() != protocol.new_nonce()
