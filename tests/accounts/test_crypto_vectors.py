"""Every published test vector of the terminal protocol (vectors.json) against accounts.crypto.

Terminal vendors build against the same file, so a mismatch here is a protocol break.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from accounts import crypto
from tests.vectors import vectors


def _ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


CARD_KEYS = vectors()["card_keys"]
TACS = vectors()["tacs"]
SIGNATURES = vectors()["signatures"]


def test_the_vector_file_holds_every_kind_of_vector() -> None:
    assert set(vectors()) >= {"cmac_rfc4493", "card_keys", "tacs", "signatures"}
    assert CARD_KEYS and TACS and SIGNATURES


def test_aes_cmac_matches_rfc_4493() -> None:
    v = vectors()["cmac_rfc4493"]
    mac = crypto.aes_cmac(bytes.fromhex(v["key"]), bytes.fromhex(v["message"]))
    assert mac.hex() == v["cmac"]


@pytest.mark.parametrize("v", CARD_KEYS, ids=_ids("card_key", len(CARD_KEYS)))
def test_card_key_derivation_matches_the_vector(v: dict[str, Any]) -> None:
    key = crypto.derive_card_key(bytes.fromhex(v["master_key"]), v["uid"], v["card_no"])
    assert key.hex() == v["card_key"]


@pytest.mark.parametrize("v", CARD_KEYS, ids=_ids("card_key", len(CARD_KEYS)))
def test_card_key_depends_on_uid_and_card_no(v: dict[str, Any]) -> None:
    master = bytes.fromhex(v["master_key"])
    other_uid = "ff" + v["uid"][2:]
    other_no = v["card_no"][:-1] + str((int(v["card_no"][-1]) + 1) % 10)
    assert crypto.derive_card_key(master, other_uid, v["card_no"]).hex() != v["card_key"]
    assert crypto.derive_card_key(master, v["uid"], other_no).hex() != v["card_key"]


def test_card_key_derivation_refuses_a_master_key_of_the_wrong_size() -> None:
    with pytest.raises(ValueError):
        crypto.derive_card_key(b"\x00" * 15, "04a1b2c3", "20260001")


@pytest.mark.parametrize("v", TACS, ids=_ids("tac", len(TACS)))
def test_tac_message_matches_the_vector(v: dict[str, Any]) -> None:
    assert crypto.tac_message(v["record"], v["terminal_id"]) == v["message"]


@pytest.mark.parametrize("v", TACS, ids=_ids("tac", len(TACS)))
def test_tac_matches_the_vector(v: dict[str, Any]) -> None:
    key = bytes.fromhex(v["card_key"])
    assert crypto.compute_tac(key, v["record"], v["terminal_id"]) == v["tac"]
    assert crypto.tac_matches(key, v["record"], v["terminal_id"], v["tac"])
    # Hex is compared case-insensitively, as terminals may send either.
    assert crypto.tac_matches(key, v["record"], v["terminal_id"], v["tac"].upper())


@pytest.mark.parametrize("v", TACS, ids=_ids("tac", len(TACS)))
@pytest.mark.parametrize(
    "field", ["type", "card_no", "card_seq", "purse", "amount", "balance_before",
              "terminal_seq", "ts"],
)
def test_a_tampered_record_fails_the_tac_check(v: dict[str, Any], field: str) -> None:
    key = bytes.fromhex(v["card_key"])
    original = v["record"][field]
    tampered = {**v["record"], field: original + 1 if isinstance(original, int) else original + "x"}
    assert not crypto.tac_matches(key, tampered, v["terminal_id"], v["tac"])


@pytest.mark.parametrize("v", TACS, ids=_ids("tac", len(TACS)))
def test_a_tac_from_another_terminal_or_key_fails(v: dict[str, Any]) -> None:
    key = bytes.fromhex(v["card_key"])
    assert not crypto.tac_matches(key, v["record"], v["terminal_id"] + "X", v["tac"])
    other_key = bytes(b ^ 1 for b in key)
    assert not crypto.tac_matches(other_key, v["record"], v["terminal_id"], v["tac"])
    assert not crypto.tac_matches(key, v["record"], v["terminal_id"], "0" * 16)


@pytest.mark.parametrize("v", SIGNATURES, ids=_ids("signature", len(SIGNATURES)))
def test_canonical_request_matches_the_vector(v: dict[str, Any]) -> None:
    canonical = crypto.canonical_request(
        v["method"], v["path"], v["timestamp"], v["nonce"], v["body"].encode("utf-8")
    )
    assert canonical == v["canonical"]


@pytest.mark.parametrize("v", SIGNATURES, ids=_ids("signature", len(SIGNATURES)))
def test_request_signature_matches_the_vector(v: dict[str, Any]) -> None:
    signature = crypto.sign_request(
        v["secret"], v["method"], v["path"], v["timestamp"], v["nonce"], v["body"].encode("utf-8")
    )
    assert signature == v["signature"]


@pytest.mark.parametrize("v", SIGNATURES, ids=_ids("signature", len(SIGNATURES)))
def test_a_changed_body_or_path_changes_the_signature(v: dict[str, Any]) -> None:
    body = v["body"].encode("utf-8")
    args = (v["method"], v["path"], v["timestamp"], v["nonce"])
    assert crypto.sign_request(v["secret"], *args, body + b" ") != v["signature"]
    changed_path = (v["method"], v["path"] + "x", v["timestamp"], v["nonce"])
    assert crypto.sign_request(v["secret"], *changed_path, body) != v["signature"]


# --- Key wrapping under the KEK -------------------------------------------------------

KEK = bytes.fromhex("5f" * 32)
MASTER = bytes.fromhex(CARD_KEYS[0]["master_key"])


def test_a_wrapped_key_unwraps_to_itself_under_the_same_kek() -> None:
    wrapped = crypto.wrap_key(KEK, MASTER, aad="onecard:purse:1")
    assert MASTER not in wrapped
    assert crypto.unwrap_key(KEK, wrapped, aad="onecard:purse:1") == MASTER


def test_wrapping_twice_gives_different_bytes() -> None:
    # A fresh nonce each time: equal keys are not recognisable from their wrapped form.
    assert crypto.wrap_key(KEK, MASTER, aad="a") != crypto.wrap_key(KEK, MASTER, aad="a")


def test_a_wrong_kek_does_not_unwrap() -> None:
    wrapped = crypto.wrap_key(KEK, MASTER, aad="onecard:purse:1")
    with pytest.raises(InvalidTag):
        crypto.unwrap_key(bytes.fromhex("6e" * 32), wrapped, aad="onecard:purse:1")


def test_a_key_moved_to_another_version_does_not_unwrap() -> None:
    wrapped = crypto.wrap_key(KEK, MASTER, aad="onecard:purse:1")
    with pytest.raises(InvalidTag):
        crypto.unwrap_key(KEK, wrapped, aad="onecard:purse:2")


def test_a_kek_is_64_hex_characters() -> None:
    assert crypto.parse_kek("  " + "ab" * 32 + "\n") == bytes.fromhex("ab" * 32)
    for bad in ("ab" * 31, "ab" * 33, "zz" * 32):
        with pytest.raises(ValueError):
            crypto.parse_kek(bad)


def test_the_kek_id_names_the_kek_without_revealing_it() -> None:
    assert crypto.kek_id(KEK) == crypto.kek_id(bytes(KEK))
    assert crypto.kek_id(KEK) != crypto.kek_id(bytes.fromhex("6e" * 32))
    assert KEK.hex() not in crypto.kek_id(KEK)
