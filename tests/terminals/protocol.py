"""Test helpers that play a terminal against the Django test client: sign requests as
§2 says, and seal records with a TAC as a card would (§3)."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from django.test import Client

from accounts import crypto
from accounts.keys import card_key
from accounts.models import Card


class SignedTerminal:
    def __init__(self, client: Client, terminal_id: str, secret_hex: str) -> None:
        self.client, self.terminal_id, self.secret = client, terminal_id, secret_hex
        self.clock_offset = 0

    def headers(self, method: str, path: str, body: bytes, **overrides: Any) -> dict[str, Any]:
        ts = str(overrides.pop("timestamp", int(time.time()) + self.clock_offset))
        nonce = overrides.pop("nonce", secrets.token_hex(16))
        signature = crypto.sign_request(self.secret, method, path, ts, nonce, body)
        h: dict[str, Any] = {"HTTP_X_TERMINAL_ID": self.terminal_id, "HTTP_X_TIMESTAMP": ts,
             "HTTP_X_NONCE": nonce, "HTTP_X_SIGNATURE": signature}
        h.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in overrides.items()})
        return h

    def get(self, path: str, **overrides: Any) -> Any:
        return self.client.get(path, **self.headers("GET", path, b"", **overrides))

    def post(self, path: str, data: Any, **overrides: Any) -> Any:
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        return self.client.generic("POST", path, body, content_type="application/json",
                                   **self.headers("POST", path, body, **overrides))

    def upload(self, records: list[dict[str, Any]]) -> Any:
        return self.post("/api/v1/terminal/records", {"records": records})


def sealed(card: Card, terminal_id: str, **fields: Any) -> dict[str, Any]:
    """A purse record as the card would seal it: the TAC from the card's real key."""
    record = {"card_no": card.card_no, "key_version": card.key_version, **fields}
    record["tac"] = crypto.compute_tac(card_key(card), record, terminal_id)
    return record
