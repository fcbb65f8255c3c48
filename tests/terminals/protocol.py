"""Test helpers that play a terminal against the Django test client: sign requests as
§2 says, and seal records with a TAC as a card would (§3).

They play the terminal with the terminal-side library, as every program that plays a
terminal does: requests are signed by `terminals.client.protocol.signed_headers`,
records a card makes are made by a `SoftCard`, and records sealed over fields no card
would write (to see the server refuse them) by `record_tac`. Only the set-up is the
server's: registering terminals and handing a card its key (`accounts.keys.card_key`,
as the card office's personalisation does)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.test import Client

from accounts.keys import card_key
from accounts.models import Card, LedgerAccount
from terminals.client.card import SoftCard
from terminals.client.protocol import record_tac, signed_headers
from terminals.models import Terminal
from terminals.services import terminal_config_update, terminal_register

RECORDS = "/api/v1/terminal/records"
HEADERS = ("X-Terminal-Id", "X-Timestamp", "X-Nonce", "X-Signature")


def sign_headers(terminal_id: str, secret_hex: str, method: str, path: str, body: bytes, *,
                 timestamp: int | str | None = None, nonce: str | None = None) -> dict[str, str]:
    """The four §2 headers by their wire names, for any HTTP client."""
    ts = int(time.time()) if timestamp is None else timestamp
    return signed_headers(terminal_id, secret_hex, method, path, body, timestamp=ts, nonce=nonce)


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
        ts = overrides.pop("timestamp", int(time.time()) + self.clock_offset)
        wire = signed_headers(self.terminal_id, self.secret, method, path, body, timestamp=ts,
                              nonce=overrides.pop("nonce", None))
        h: dict[str, Any] = {_meta(k): v for k, v in wire.items()}
        h.update({_meta(k): v for k, v in overrides.items()})
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
        ts = overrides.pop("timestamp", int(time.time()) + self.clock_offset)
        nonce = overrides.pop("nonce", None)
        wire = signed_headers(self.terminal_id, secret or self.secret, method,
                              signed_path or path, body, timestamp=ts,
                              nonce=None if nonce is None else str(nonce))
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
    """A purse record with exactly these fields, sealed with the card's real key."""
    record = {"card_no": card.card_no, "key_version": card.key_version, **fields}
    record["tac"] = record_tac(card_key(card), record, terminal_id)
    return record


def reseal(record: dict[str, Any], card: Card, terminal_id: str) -> dict[str, Any]:
    """The same record with a TAC computed over its current fields."""
    record = dict(record)
    record["tac"] = record_tac(card_key(card), record, terminal_id)
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
    """What the card itself holds: its counter and purses, which a test may set as a
    cloned or torn card would hold them. Each transaction is run by a `SoftCard` holding
    that memory, so the next card_seq, the balance before and the TAC are the card's
    own, exactly as a card in a reader makes them; the server only sees the record when
    the terminal uploads it."""

    card: Card
    card_seq: int = 0
    purses: dict[str, int] = field(default_factory=lambda: {"main": 0, "subsidy": 0})
    _key: bytes = b""

    @classmethod
    def of(cls, card: Card) -> Chip:
        return cls(card=card, card_seq=card.card_seq,
                   purses={"main": card.card_main, "subsidy": card.card_subsidy},
                   _key=card_key(card))

    def soft(self) -> SoftCard:
        """The card as it is now, ready for a reader."""
        return SoftCard.in_use(bytes.fromhex(self.card.uid), key_version=self.card.key_version,
                               card_key=self._key, card_no=self.card.card_no,
                               card_seq=self.card_seq, main=self.purses["main"],
                               subsidy=self.purses["subsidy"])

    def _seal(self, till: Till, kind: str, amount: int, purse: str,
              ts: int | None, **extra: Any) -> dict[str, Any]:
        soft, seq, ts = self.soft(), till.next_seq(), ts or int(time.time())
        made = soft.transact(kind, purse, amount, ts, seq, till.terminal_id)
        self.card_seq, self.purses[purse] = made.card_seq, soft.balance(purse)
        return {
            "type": kind, "terminal_seq": seq, "ts": ts, "card_no": self.card.card_no,
            "card_seq": made.card_seq, "purse": purse, "amount": amount,
            "balance_before": made.balance_before, "key_version": self.card.key_version,
            **extra, "tac": made.tac,
        }

    def purchase(self, till: Till, amount: int, purse: str = "main",
                 ts: int | None = None) -> dict[str, Any]:
        """A sale; the card refuses (CardError 9401) to pay more than it holds."""
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
