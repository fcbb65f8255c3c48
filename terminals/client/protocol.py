"""The cryptography of the terminal protocol, terminal side (terminal-protocol.md §2, §3).

Pure functions over bytes and text; `vectors.json` beside the spec checks every one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms

KDF_LABEL = b"ONECARD-PURSE"
TAC_VERSION = "v1"
TAC_BYTES = 8
NONCE_BYTES = 16

# Record types and purses that a purse transaction may carry (§3, §4).
PURCHASE = "purchase"
LOAD = "load"
MAIN = "main"
SUBSIDY = "subsidy"
KINDS = (PURCHASE, LOAD)
PURSES = (MAIN, SUBSIDY)
# The record fields a TAC covers besides the terminal's id (§3), by their record names.
TAC_RECORD_FIELDS = (
    "type", "card_no", "card_seq", "purse", "amount", "balance_before", "terminal_seq", "ts"
)


def aes_cmac(key: bytes, message: bytes) -> bytes:
    """AES-CMAC (RFC 4493 for a 16-byte key)."""
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(message)
    return mac.finalize()


def derive_card_key(master_key: bytes, uid: bytes, card_no: str) -> bytes:
    """K_card: SP 800-108 counter-mode KDF, one 128-bit block, AES-CMAC as the PRF."""
    if len(master_key) != 16:
        raise ValueError("a purse master key is AES-128 (16 bytes)")
    data = b"\x01" + KDF_LABEL + b"\x00" + uid + card_no.encode("ascii") + b"\x00\x80"
    return aes_cmac(master_key, data)


def tac_message(
    *,
    type: str,
    card_no: str,
    card_seq: int,
    purse: str,
    amount: int,
    balance_before: int,
    terminal_id: str,
    terminal_seq: int,
    ts: int,
) -> str:
    fields = (type, card_no, card_seq, purse, amount, balance_before, terminal_id, terminal_seq, ts)
    return "|".join([TAC_VERSION, *(str(f) for f in fields)])


def compute_tac(card_key: bytes, **fields: Any) -> str:
    """Lowercase hex of the first 8 bytes of AES-CMAC(card key, TAC message)."""
    message = tac_message(**fields).encode("ascii")
    return aes_cmac(card_key, message)[:TAC_BYTES].hex()


def record_tac(card_key: bytes, record: Mapping[str, Any], terminal_id: str) -> str:
    """The TAC of a record as it is uploaded: its own fields and the id of the terminal
    that uploads it. Fields the TAC does not cover (`key_version`, `load_id`, `tac`, ...)
    are left out; whatever the covered fields hold is sealed as it is, so a record that
    is wrong on purpose can still carry a TAC that matches it."""
    fields = {name: record[name] for name in TAC_RECORD_FIELDS}
    return compute_tac(card_key, terminal_id=terminal_id, **fields)


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str, path_with_query: str, timestamp: int | str, nonce: str, body: bytes
) -> str:
    """The five lines of §2, joined by newlines, without a trailing newline. The timestamp
    is the `X-Timestamp` header's text (whole seconds from a terminal that works)."""
    return "\n".join([method.upper(), path_with_query, str(timestamp), nonce, body_digest(body)])


def sign_request(
    secret_hex: str,
    method: str,
    path_with_query: str,
    timestamp: int | str,
    nonce: str,
    body: bytes,
) -> str:
    """Lowercase hex HMAC-SHA256 of the canonical request; the key is the decoded secret."""
    canonical = canonical_request(method, path_with_query, timestamp, nonce, body)
    return hmac.new(
        bytes.fromhex(secret_hex), canonical.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def signed_headers(
    terminal_id: str,
    secret_hex: str,
    method: str,
    path_with_query: str,
    body: bytes,
    *,
    timestamp: int | str,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers of §2 by their wire names, for exactly these request bytes."""
    nonce = new_nonce() if nonce is None else nonce
    return {
        "X-Terminal-Id": terminal_id,
        "X-Timestamp": str(timestamp),
        "X-Nonce": nonce,
        "X-Signature": sign_request(secret_hex, method, path_with_query, timestamp, nonce, body),
    }


def encode_json(payload: Any) -> bytes:
    """The one serialisation of a request body: the bytes signed are the bytes sent."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
