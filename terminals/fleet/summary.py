"""What a fleet run counts and finds: `Summary`, and `Stats`, its thread-safe counters."""

from __future__ import annotations

import statistics
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from terminals.client.door import ListRefresh, Presentation
from terminals.client.terminal import Refusal
from terminals.fleet.doors import BLACKLIST_BEHIND, LIST_BEHIND, Check


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
    # Door controllers: cards presented at doors and decided offline from the list held.
    door_controllers: int = 0
    door_decisions: int = 0
    door_granted: int = 0
    door_reasons: Counter[str] = field(default_factory=Counter)  # denials by reason
    door_flagged: int = 0  # let in with a flag (a second entry in a soft area)
    # Each decision is checked with access-check at the same moment; it is compared when
    # the controller held the server's current list (and blacklist, and the server had
    # its earlier passages where the door depends on them).
    door_compared: int = 0
    door_disagreements: list[str] = field(default_factory=list)
    door_not_compared: Counter[str] = field(default_factory=Counter)
    door_old_list_differs: int = 0  # decided on an older list, the server would not have
    access_list_polls: int = 0
    access_list_full: int = 0
    access_list_revoked: int = 0  # revoke lines received in deltas
    access_changes: int = 0
    controllers_behind: list[str] = field(default_factory=list)
    # Attendance clocks: a small roster's days punched, results held against the fleet's.
    attendance_clocks: int = 0
    attendance_staff: int = 0
    attendance_days: int = 0  # holder-days expected
    attendance_punches: int = 0
    attendance_outages: int = 0
    attendance_offline_hours: int = 0  # of the days' time, summed over outages
    attendance_days_computed: int = 0  # by the recompute task's turns during the run
    attendance_behaviours: Counter[str] = field(default_factory=Counter)
    attendance_mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.mismatches or self.door_disagreements or self.controllers_behind
                    or self.attendance_mismatches)

    @property
    def door_denied(self) -> int:
        return self.door_decisions - self.door_granted

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
        if self.door_controllers:
            lines += self._door_lines()
        if self.attendance_clocks:
            lines += self._attendance_lines()
        return "\n".join(lines)

    def _attendance_lines(self) -> list[str]:
        lines = [
            f"attendance clocks  {self.attendance_clocks}: {self.attendance_punches} punches for "
            f"{self.attendance_staff} staff over {self.attendance_days} holder-days; "
            f"{self.attendance_outages} outages ({self.attendance_offline_hours} hours of "
            f"the days' time offline); the recompute task computed "
            f"{self.attendance_days_computed} days during the run",
            f"  days planned     {dict(sorted(self.attendance_behaviours.items()))}",
            f"daily results      {self.attendance_days} compared with the fleet's expectation: "
            + (f"{len(self.attendance_mismatches)} DIFFER" if self.attendance_mismatches
               else "every one as expected"),
        ]
        lines += [f"  {m}" for m in self.attendance_mismatches[:50]]
        return lines

    def _door_lines(self) -> list[str]:
        lines = [
            f"door controllers   {self.door_controllers}: {self.door_decisions} decisions "
            f"offline, {self.door_granted} granted ({self.door_flagged} flagged), "
            f"{self.door_denied} denied {dict(self.door_reasons) or ''}".rstrip(),
            f"access lists       {self.access_list_polls} polls ({self.access_list_full} full), "
            f"{self.access_list_revoked} revokes received, {self.access_changes} changes made "
            f"by the security office",
            f"offline vs server  {self.door_compared} decisions compared with access-check: "
            + (f"{len(self.door_disagreements)} DISAGREE" if self.door_disagreements
               else "every one agrees"),
            f"  not compared     {dict(self.door_not_compared) or 0} (of which decided on an "
            f"older list and the server would decide otherwise: {self.door_old_list_differs})",
        ]
        if self.controllers_behind:
            lines.append(f"  BEHIND at the end: {', '.join(self.controllers_behind)}")
        lines += [f"  {d}" for d in self.door_disagreements[:50]]
        return lines


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

    def door_decision(self, terminal_id: str, p: Presentation, check: Check) -> None:
        with self.lock:
            s = self.summary
            s.door_decisions += 1
            s.records_made += 1
            if p.decision.granted:
                s.door_granted += 1
                s.door_flagged += p.decision.flag is not None
            else:
                s.door_reasons[str(p.decision.reason)] += 1
            if check.compared:
                s.door_compared += 1
                if not check.agrees:
                    s.door_disagreements.append(
                        f"{terminal_id} door {p.door} card {p.card_no} at {p.ts} on list "
                        f"v{p.list_version}: offline {p.decision.as_pair()}, server "
                        f"{check.server}")
                return
            s.door_not_compared[str(check.why_not)] += 1
            if check.why_not in (LIST_BEHIND, BLACKLIST_BEHIND) and check.server is not None \
                    and check.server[0] != p.decision.granted:
                s.door_old_list_differs += 1

    def list_refresh(self, refresh: ListRefresh) -> None:
        with self.lock:
            s = self.summary
            s.access_list_polls += 1
            s.access_list_full += refresh.full
            s.access_list_revoked += refresh.revoked
