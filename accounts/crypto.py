"""Pure cryptography of the terminal protocol (§2, §3, §8): no Django, no database.

Card key derivation and TAC follow `terminal-protocol.md` §3; request signatures §2;
key wrapping is AES-256-GCM under the KEK.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KDF_LABEL = b"ONECARD-PURSE"
TAC_FIELDS = (
    "type",
    "card_no",
    "card_seq",
    "purse",
    "amount",
    "balance_before",
    "terminal_id",
    "terminal_seq",
    "ts",
)


def aes_cmac(key: bytes, message: bytes) -> bytes:
    c = cmac.CMAC(algorithms.AES(key))
    c.update(message)
    return c.finalize()


def derive_card_key(master_key: bytes, uid: str, card_no: str) -> bytes:
    """NIST SP 800-108 counter-mode KDF, one block, AES-CMAC as PRF, L = 128 bits."""
    if len(master_key) != 16:
        raise ValueError("purse master keys are AES-128 (16 bytes)")
    data = (
        b"\x01" + KDF_LABEL + b"\x00" + bytes.fromhex(uid) + card_no.encode("ascii") + b"\x00\x80"
    )
    return aes_cmac(master_key, data)


def tac_message(record: Mapping[str, Any], terminal_id: str) -> str:
    fields = {**record, "terminal_id": terminal_id}
    return "v1|" + "|".join(str(fields[name]) for name in TAC_FIELDS)


def compute_tac(card_key: bytes, record: Mapping[str, Any], terminal_id: str) -> str:
    return aes_cmac(card_key, tac_message(record, terminal_id).encode("ascii"))[:8].hex()


def tac_matches(card_key: bytes, record: Mapping[str, Any], terminal_id: str, tac: str) -> bool:
    return hmac.compare_digest(compute_tac(card_key, record, terminal_id), tac.lower())


def canonical_request(
    method: str, path_with_query: str, timestamp: int | str, nonce: str, body: bytes
) -> str:
    return "\n".join(
        [
            method.upper(),
            path_with_query,
            str(timestamp),
            nonce,
            hashlib.sha256(body).hexdigest(),
        ]
    )


def sign_request(
    secret_hex: str,
    method: str,
    path_with_query: str,
    timestamp: int | str,
    nonce: str,
    body: bytes,
) -> str:
    canonical = canonical_request(method, path_with_query, timestamp, nonce, body)
    return hmac.new(
        bytes.fromhex(secret_hex), canonical.encode("utf-8"), hashlib.sha256
    ).hexdigest()


# --- Key wrapping under the KEK -------------------------------------------------------


def kek_id(kek: bytes) -> str:
    """A short fingerprint naming which KEK wrapped a key (not secret, not the key)."""
    return hashlib.sha256(b"onecard-kek-id" + kek).hexdigest()[:16]


def wrap_key(kek: bytes, key: bytes, *, aad: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(kek).encrypt(nonce, key, aad.encode("ascii"))


def unwrap_key(kek: bytes, wrapped: bytes, *, aad: str) -> bytes:
    return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], aad.encode("ascii"))


def parse_kek(text: str) -> bytes:
    text = text.strip()
    if len(text) != 64:
        raise ValueError("the KEK must be 64 hex characters (32 bytes)")
    return bytes.fromhex(text)
