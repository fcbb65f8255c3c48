"""Terminals built on the client, queue and card: the upload/list/heartbeat cycle every
terminal runs (`Terminal.sync`), canteen sales (`PosTerminal`) and writing money to
cards (`KioskTerminal`, and a POS whose config allows it).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from terminals.client.apdu import CardError, CardInfo
from terminals.client.card import Card
from terminals.client.http import ProtocolError, TerminalClient, Unreachable
from terminals.client.protocol import LOAD, MAIN, PURCHASE, PURSES, SUBSIDY
from terminals.client.queue import RecordQueue

DEFAULT_BATCH = 500
CONFIG_KEY = "config"

# Called after every uploaded batch with the records, the server's answer and the
# seconds the upload took (the simulator counts with it).
BatchHook = Callable[[list[dict[str, Any]], dict[str, Any], float], None]


class Refusal(StrEnum):
    """Why a terminal turned a card away without touching it."""

    BLACKLISTED = "blacklisted"
    INSUFFICIENT = "insufficient"
    NOT_PERSONALISED = "not_personalised"
    INVALID_AMOUNT = "invalid_amount"
    OVER_LIMIT = "over_limit"
    LOADS_NOT_ALLOWED = "loads_not_allowed"
    CARD_ERROR = "card_error"


@dataclass
class Outcome:
    """A sale or cash load: the record it made, or why it was refused."""

    record: dict[str, Any] | None = None
    refused: Refusal | None = None
    sw: int | None = None  # the card's status word when the card refused

    @property
    def ok(self) -> bool:
        return self.record is not None


@dataclass
class UploadStats:
    sent: int = 0
    batches: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    # Results other than accepted/duplicate, for a person to look at.
    problems: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    highest_contiguous_seq: int | None = None

    def add(self, batch: Sequence[dict[str, Any]], answer: dict[str, Any], latency: float) -> None:
        self.sent += len(batch)
        self.batches += 1
        self.latencies.append(latency)
        for result in answer["results"]:
            self.statuses[str(result.get("status"))] += 1
            if result.get("status") not in ("accepted", "duplicate"):
                self.problems.append(result)
        self.highest_contiguous_seq = answer["highest_contiguous_seq"]


@dataclass
class SyncReport:
    upload: UploadStats
    blacklist_version: int
    config_version: int | None
    config_changed: bool
    heartbeat: dict[str, Any]


class Terminal:
    """A terminal's client, queue, blacklist and config, and the cycle that keeps them
    in step with the server."""

    kind: ClassVar[str] = ""

    def __init__(
        self,
        client: TerminalClient,
        queue: RecordQueue,
        *,
        batch_size: int = DEFAULT_BATCH,
        retries: int = 2,
        retry_delay: float = 0.5,
        on_batch: BatchHook | None = None,
    ) -> None:
        self.client = client
        self.queue = queue
        self.batch_size = batch_size
        self.retries = retries
        self.retry_delay = retry_delay
        self.on_batch = on_batch
        self.faults: list[dict[str, str]] = []
        self._announced_config_version: int | None = None
        self._config: dict[str, Any] = dict(queue.get(CONFIG_KEY, {}))  # read on every sale

    @property
    def terminal_id(self) -> str:
        return self.client.terminal_id

    def now(self) -> int:
        """The terminal's clock (corrected by what the server taught the client)."""
        return self.client.timestamp()

    @property
    def config(self) -> dict[str, Any]:
        """The last config fetched (kept in the queue, so it survives a restart)."""
        return self._config

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.config.get("params") or {})

    @property
    def config_version(self) -> int | None:
        version = self.config.get("config_version")
        return int(version) if version is not None else None

    def blacklisted(self, card_no: str) -> bool:
        return self.queue.blacklisted(card_no)

    def report_fault(self, code: str, message: str) -> None:
        """Reported with the next heartbeat, then cleared."""
        self.faults.append({"code": code, "message": message})

    # --- The cycle -----------------------------------------------------------------------

    def sync(self) -> SyncReport:
        """Upload everything queued, refresh the blacklist (and the config when its version
        changed), then tell the server where this terminal stands."""
        upload = self.upload_pending()
        blacklist_version = self.refresh_blacklist()
        changed = False
        if self.config_version is None or self._announced_config_version not in (
            None,
            self.config_version,
        ):
            self.refresh_config()
            changed = True
        heartbeat = self.send_heartbeat()
        if heartbeat.get("config_version") not in (None, self.config_version):
            self.refresh_config()
            changed = True
        return SyncReport(upload, blacklist_version, self.config_version, changed, heartbeat)

    def upload_pending(self) -> UploadStats:
        """Upload queued records oldest first, in batches, until none is left (or the
        server stops confirming them); each batch is retried as it was on failure."""
        stats = UploadStats()
        while batch := self.queue.unsent(self.batch_size):
            answer, latency = self._upload_batch(batch)
            stats.add(batch, answer, latency)
            if self.on_batch is not None:
                self.on_batch(batch, answer, latency)
            if self.queue.forget_upto(answer["highest_contiguous_seq"]) == 0:
                break  # nothing of it is contiguous on the server yet: try again next sync
        return stats

    def _upload_batch(self, batch: list[dict[str, Any]]) -> tuple[dict[str, Any], float]:
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                answer = self.client.upload(batch)
            except ProtocolError as exc:
                if exc.status == 413 and len(batch) > 1:  # batch_too_large: halve it
                    self.batch_size = max(1, len(batch) // 2)
                    batch = batch[: self.batch_size]
                    continue
                if exc.status < 500 or attempt >= self.retries:
                    raise
            except Unreachable:
                if attempt >= self.retries:
                    raise
            else:
                return answer, time.perf_counter() - started
            time.sleep(self.retry_delay * 2**attempt)
            attempt += 1

    def refresh_blacklist(self) -> int:
        answer = self.client.blacklist(since=self.queue.blacklist_version())
        self.queue.blacklist_apply(
            version=int(answer["version"]),
            full=bool(answer.get("full")),
            add=answer.get("add") or [],
            remove=answer.get("remove") or [],
        )
        return int(answer["version"])

    def refresh_config(self) -> dict[str, Any]:
        config = self.client.config()
        self.queue.put(CONFIG_KEY, config)
        self._config = dict(config)
        self._announced_config_version = config.get("config_version")
        return config

    def heartbeat_fields(self) -> dict[str, Any]:
        fields = {
            "blacklist_version": self.queue.blacklist_version(),
            "config_version": self.config_version,
            "last_seq": self.queue.last_seq(),
            "queued_records": self.queue.count(),
            "faults": list(self.faults),
        }
        return {name: value for name, value in fields.items() if value is not None}

    def send_heartbeat(self) -> dict[str, Any]:
        fields = self.heartbeat_fields()
        answer = self.client.heartbeat(**fields)
        del self.faults[: len(fields["faults"])]
        self._announced_config_version = answer.get("config_version")
        return answer

    # --- Purse transactions --------------------------------------------------------------

    def _transact(
        self, card: Card, info: CardInfo, kind: str, purse: str, amount: int, **extra: Any
    ) -> dict[str, Any]:
        """Run one TRANSACT and queue its record; CardError when the card refused."""
        seq, ts = self.queue.next_seq(), self.now()
        result = card.transact(kind, purse, amount, ts, seq, self.terminal_id)
        record = {
            "type": kind,
            "terminal_seq": seq,
            "ts": ts,
            "card_no": info.card_no,
            "card_seq": result.card_seq,
            "purse": purse,
            "amount": amount,
            "balance_before": result.balance_before,
            "key_version": info.key_version,
            "tac": result.tac,
            **extra,
        }
        self.queue.append(record)
        return record

    def _card_for_use(self, card: Card) -> tuple[CardInfo | None, Outcome | None]:
        """The card's status, or the refusal to give instead of touching it."""
        try:
            info = card.get_status()
        except CardError as exc:
            return None, Outcome(refused=Refusal.CARD_ERROR, sw=exc.sw)
        if not info.personalised:
            return None, Outcome(refused=Refusal.NOT_PERSONALISED)
        if self.blacklisted(info.card_no):
            return None, Outcome(refused=Refusal.BLACKLISTED)
        return info, None


@dataclass
class LoadClaim:
    """What `claim_loads` wrote to a card, and which loads it left pending and why."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (load_id, reason)
    refused: Refusal | None = None


class LoadingTerminal(Terminal):
    """A terminal that writes money to cards: pending loads and cash it takes itself."""

    def loads_allowed(self) -> bool:
        return True

    def claim_loads(self, card: Card, *, upload: bool = True) -> LoadClaim:
        """Write every pending load of the card to it and queue a load record for each.

        With `upload` the records go to the server at once (if it answers): until it
        has them the loads still show as pending elsewhere. This terminal never writes
        the same load twice; a load the card refuses (9402) stays pending."""
        if not self.loads_allowed():
            return LoadClaim(refused=Refusal.LOADS_NOT_ALLOWED)
        info, refusal = self._card_for_use(card)
        if info is None:
            return LoadClaim(refused=refusal.refused if refusal else Refusal.CARD_ERROR)
        claim = LoadClaim()
        for load in self.client.pending_loads(info.card_no).get("loads") or []:
            load_id = str(load["load_id"])
            if self.queue.load_written(load_id):
                claim.skipped.append((load_id, "already_written"))
                continue
            try:
                claim.records.append(
                    self._transact(
                        card, info, LOAD, load["purse"], int(load["amount"]), load_id=load_id
                    )
                )
            except CardError as exc:
                claim.skipped.append((load_id, f"card_{exc.sw:04x}"))
        if upload and claim.records:
            # If it fails the records stay queued; the next sync retries the same records.
            with contextlib.suppress(Unreachable, ProtocolError):
                self.upload_pending()
        return claim

    def cash_load(self, card: Card, amount: int, purse: str = MAIN) -> Outcome:
        """Cash taken by this terminal, written to the card as a load."""
        if not self.loads_allowed():
            return Outcome(refused=Refusal.LOADS_NOT_ALLOWED)
        if purse not in PURSES or isinstance(amount, bool) or amount <= 0:
            return Outcome(refused=Refusal.INVALID_AMOUNT)
        info, refusal = self._card_for_use(card)
        if info is None:
            return refusal or Outcome(refused=Refusal.CARD_ERROR)
        try:
            return Outcome(self._transact(card, info, LOAD, purse, amount, source="cash"))
        except CardError as exc:
            return Outcome(refused=Refusal.CARD_ERROR, sw=exc.sw)


class KioskTerminal(LoadingTerminal):
    kind = "kiosk"


class PosTerminal(LoadingTerminal):
    """A canteen or shop reader. It spends from the first purse (in `purse_order`) that
    covers the whole amount; a sale is never split across purses."""

    kind = "pos"
    MODES = ("free", "menu", "fixed")

    def __init__(
        self,
        client: TerminalClient,
        queue: RecordQueue,
        *,
        purse_order: Sequence[str] = (SUBSIDY, MAIN),
        **kwargs: Any,
    ) -> None:
        super().__init__(client, queue, **kwargs)
        if not purse_order or any(p not in PURSES for p in purse_order):
            raise ValueError("purse_order names main and/or subsidy")
        self.purse_order = tuple(purse_order)

    def loads_allowed(self) -> bool:
        return bool(self.params.get("collect_loads"))

    @property
    def mode(self) -> str:
        mode = self.params.get("mode", "free")
        return mode if mode in self.MODES else "free"

    def menu(self) -> dict[int, int]:
        """Menu key -> amount, in menu mode."""
        return {int(item["key"]): int(item["amount"]) for item in self.params.get("menu") or []}

    def price(self, key: int | None = None) -> int | None:
        """The amount a tap costs: the fixed amount, or the menu key's; None in free mode
        (the cashier types it)."""
        if self.mode == "fixed":
            return int(self.params["fixed_amount"])
        if self.mode == "menu" and key is not None:
            return self.menu().get(key)
        return None

    def sell(self, card: Card, amount: int, purse: str | None = None) -> Outcome:
        """Take `amount` from the card, or refuse without touching it (no record)."""
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            return Outcome(refused=Refusal.INVALID_AMOUNT)
        limit = self.params.get("max_amount")
        if limit and amount > int(limit):
            return Outcome(refused=Refusal.OVER_LIMIT)
        if purse is not None and purse not in PURSES:
            return Outcome(refused=Refusal.INVALID_AMOUNT)
        info, refusal = self._card_for_use(card)
        if info is None:
            return refusal or Outcome(refused=Refusal.CARD_ERROR)
        order = (purse,) if purse else self.purse_order
        chosen = next((p for p in order if info.balance(p) >= amount), None)
        if chosen is None:
            return Outcome(refused=Refusal.INSUFFICIENT)
        try:
            return Outcome(self._transact(card, info, PURCHASE, chosen, amount))
        except CardError as exc:
            return Outcome(refused=Refusal.CARD_ERROR, sw=exc.sw)


class IssuerTerminal(LoadingTerminal):
    """The card office's desk reader: writes pending loads at the counter."""

    kind = "issuer"
