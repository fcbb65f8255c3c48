"""Test helpers that play a terminal against the Django test client: sign requests as
§2 says, and seal records with a TAC as a card would (§3)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.test import Client

from accounts import crypto
from accounts.keys import card_key
from accounts.models import Card, LedgerAccount
from terminals.models import Terminal
from terminals.services import terminal_config_update, terminal_register

RECORDS = "/api/v1/terminal/records"
HEADERS = ("X-Terminal-Id", "X-Timestamp", "X-Nonce", "X-Signature")


def sign_headers(terminal_id: str, secret_hex: str, method: str, path: str, body: bytes, *,
                 timestamp: int | str | None = None, nonce: str | None = None) -> dict[str, str]:
    """The four §2 headers by their wire names, for any HTTP client."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = secrets.token_hex(16) if nonce is None else nonce
    return {"X-Terminal-Id": terminal_id, "X-Timestamp": ts, "X-Nonce": nonce,
            "X-Signature": crypto.sign_request(secret_hex, method, path, ts, nonce, body)}


def _meta(name: str) -> str:
    return f"HTTP_{name.upper().replace('-', '_')}"


class SignedTerminal:
    def __init__(self, client: Client, terminal_id: str, secret_hex: str,
                 model: Terminal | None = None) -> None:
        self.client, self.terminal_id, self.secret = client, terminal_id, secret_hex
        self.clock_offset = 0
        self.model = model
        self.last_seq = 0

    def next_seq(self) -> int:
        self.last_seq += 1
        return self.last_seq

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
        return self.post(RECORDS, {"records": records})

    def send(self, method: str, path: str, body: bytes = b"", *, signed_path: str | None = None,
             secret: str | None = None, drop: Iterable[str] = (), **overrides: Any) -> Any:
        """A request whose signature may be made wrong on purpose: another path or secret
        signed, headers dropped (by wire name) or replaced (timestamp=, nonce=, or any
        header by wire name with '-' as '_', e.g. X_Signature=...)."""
        ts = str(overrides.pop("timestamp", int(time.time()) + self.clock_offset))
        nonce = str(overrides.pop("nonce", secrets.token_hex(16)))
        signature = crypto.sign_request(secret or self.secret, method, signed_path or path, ts,
                                        nonce, body)
        wire = {"X-Terminal-Id": self.terminal_id, "X-Timestamp": ts, "X-Nonce": nonce,
                "X-Signature": signature}
        wire.update({k.replace("_", "-"): str(v) for k, v in overrides.items()})
        for name in drop:
            wire.pop(name, None)
        meta: dict[str, Any] = {_meta(k): v for k, v in wire.items()}
        return self.client.generic(method, path, body, content_type="application/json", **meta)


def terminal_for(client: Client, kind: str, *, by: Any = None, name: str = "",
                 merchant_code: str | None = None, params: dict[str, Any] | None = None,
                 doors: int = 0) -> SignedTerminal:
    """Register a terminal (a POS gets merchant C1 unless told) and play it."""
    if kind == "pos" and merchant_code is None:
        merchant_code = "C1"
    terminal, secret = terminal_register(kind=kind, name=name or f"{kind} terminal", by=by,
                                         merchant_code=merchant_code, doors=doors)
    if params is not None:
        terminal = terminal_config_update(terminal=terminal, params=params, by=by)
    return SignedTerminal(client, terminal.terminal_id, secret, model=terminal)


def sealed(card: Card, terminal_id: str, **fields: Any) -> dict[str, Any]:
    """A purse record as the card would seal it: the TAC from the card's real key."""
    record = {"card_no": card.card_no, "key_version": card.key_version, **fields}
    record["tac"] = crypto.compute_tac(card_key(card), record, terminal_id)
    return record


def reseal(record: dict[str, Any], card: Card, terminal_id: str) -> dict[str, Any]:
    """The same record with a TAC computed over its current fields."""
    record = dict(record)
    record["tac"] = crypto.compute_tac(card_key(card), record, terminal_id)
    return record


class Till(Protocol):
    """Anything that plays a terminal for a card: an id and its next terminal_seq."""

    terminal_id: str

    def next_seq(self) -> int: ...


@dataclass
class Counter:
    """A terminal numbering its records, without HTTP (for calling the ingest directly)."""

    terminal_id: str
    last_seq: int = 0

    def next_seq(self) -> int:
        self.last_seq += 1
        return self.last_seq


@dataclass
class Chip:
    """What the card itself holds: its counter and purses. Each transaction it makes
    is sealed with its real key, with the next card_seq and the balance before, exactly
    as a card in a reader would; the server only sees it when the terminal uploads."""

    card: Card
    card_seq: int = 0
    purses: dict[str, int] = field(default_factory=lambda: {"main": 0, "subsidy": 0})
    _key: bytes = b""

    @classmethod
    def of(cls, card: Card) -> Chip:
        return cls(card=card, card_seq=card.card_seq,
                   purses={"main": card.card_main, "subsidy": card.card_subsidy},
                   _key=card_key(card))

    def _seal(self, till: Till, kind: str, amount: int, purse: str,
              ts: int | None, **extra: Any) -> dict[str, Any]:
        self.card_seq += 1
        before = self.purses[purse]
        self.purses[purse] = before + (amount if kind == "load" else -amount)
        record: dict[str, Any] = {
            "type": kind, "terminal_seq": till.next_seq(), "ts": ts or int(time.time()),
            "card_no": self.card.card_no, "card_seq": self.card_seq, "purse": purse,
            "amount": amount, "balance_before": before, "key_version": self.card.key_version,
            **extra,
        }
        record["tac"] = crypto.compute_tac(self._key, record, till.terminal_id)
        return record

    def purchase(self, till: Till, amount: int, purse: str = "main",
                 ts: int | None = None) -> dict[str, Any]:
        assert self.purses[purse] >= amount, "a card refuses to pay more than it holds"
        return self._seal(till, "purchase", amount, purse, ts)

    def load(self, till: Till, amount: int, purse: str = "main", *, load_id: str | None = None,
             ts: int | None = None) -> dict[str, Any]:
        """A pending load written to the card (load_id), else cash taken by the terminal."""
        extra = {"load_id": load_id} if load_id else {"source": "cash"}
        return self._seal(till, "load", amount, purse, ts, **extra)


def balance(code: str) -> int:
    account = LedgerAccount.objects.filter(code=code).first()
    return account.balance if account else 0


def payable(merchant_code: str = "C1") -> int:
    return balance(f"merchant_payable:{merchant_code}")


def cash_box(terminal_id: str) -> int:
    return balance(f"terminal_cash:{terminal_id}")


def results(answer: Any) -> list[tuple[int, str]]:
    """(terminal_seq, status) of each result, or (seq, reason) for rejected ones."""
    assert answer.status_code == 200, answer.content
    return [(r["terminal_seq"], r.get("reason") or r["status"]) for r in answer.json()["results"]]
