"""What a fleet run counts and finds: `Summary`, and `Stats`, its thread-safe counters."""

from __future__ import annotations

import statistics
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from terminals.client.terminal import Refusal


@dataclass
class Summary:
    elapsed: float = 0.0
    records_made: int = 0
    records_sent: int = 0
    resent: int = 0  # records sent again on purpose (--duplicate-rate)
    statuses: Counter[str] = field(default_factory=Counter)
    reject_reasons: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    sales: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    loads: int = 0
    cash_loads: int = 0
    lost_cards: int = 0
    sales_on_lost_cards: int = 0  # before the terminal's blacklist listed them
    config_refreshes: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    cards_checked: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def records_per_second(self) -> float:
        return self.statuses["accepted"] / self.elapsed if self.elapsed else 0.0

    def latency_ms(self, quantile: float) -> float:
        if not self.latencies:
            return 0.0
        if len(self.latencies) == 1:
            return self.latencies[0] * 1000
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[min(98, max(0, round(quantile * 100) - 1))] * 1000

    def as_text(self) -> str:
        s = self.statuses
        lines = [
            f"elapsed            {self.elapsed:.1f} s",
            f"records made       {self.records_made} ({self.sales} sales, {self.loads} loads, "
            f"{self.cash_loads} cash loads)",
            f"records sent       {self.records_sent} (of which {self.resent} re-sent on purpose)",
            f"  accepted         {s['accepted']}",
            f"  duplicate        {s['duplicate']}",
            f"  conflict         {s['conflict']}",
            f"  rejected         {s['rejected']} {dict(self.reject_reasons) or ''}".rstrip(),
            f"accepted records/s {self.records_per_second:.1f}",
            f"upload latency     p50 {self.latency_ms(0.5):.1f} ms, "
            f"p99 {self.latency_ms(0.99):.1f} ms ({len(self.latencies)} uploads)",
            f"refusals           {dict(self.refusals)}",
            f"lost cards         {self.lost_cards} (sales before the terminal knew: "
            f"{self.sales_on_lost_cards}, refused and kept by the canteen: "
            f"{self.refusals[Refusal.BLACKLISTED]})",
            f"config refreshes   {self.config_refreshes}",
            f"request errors     {dict(self.errors)}",
            f"cards checked      {self.cards_checked}: "
            + ("every card balance matches" if self.ok else f"{len(self.mismatches)} MISMATCHES"),
        ]
        lines += [f"  {m}" for m in self.mismatches[:50]]
        return "\n".join(lines)


class Stats:
    """Counters shared by the terminal threads."""

    def __init__(self, summary: Summary) -> None:
        self.summary = summary
        self.lock = threading.Lock()

    def batch(self, batch: list[dict[str, Any]], answer: dict[str, Any], latency: float, *,
              resent: bool = False) -> None:
        with self.lock:
            s = self.summary
            s.records_sent += len(batch)
            s.resent += len(batch) if resent else 0
            s.latencies.append(latency)
            for result in answer["results"]:
                s.statuses[result["status"]] += 1
                if result["status"] == "rejected":
                    s.reject_reasons[result.get("reason", "?")] += 1

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self.summary, name, getattr(self.summary, name) + n)

    def refused(self, reason: str) -> None:
        with self.lock:
            self.summary.refusals[reason] += 1

    def error(self, exc: BaseException) -> None:
        code = getattr(exc, "code", None) or type(exc).__name__
        with self.lock:
            self.summary.errors[str(code)] += 1
