"""The demo campus's attendance: a day shift, the staff rostered on it this month and
last (weekends off), and the administration building's clock having punched their
working days so far (most on time, some late or leaving early, a forgotten punch, an
absence), uploaded through the terminal ingest as a clock would; then the days are
computed, so HR's results and month report have something to show."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any

from attendance import compute, services
from attendance.compute import zone
from terminals.ingest import records_ingest
from terminals.models import Terminal

BATCH = 500


def _punches(numbers: Sequence[str], cards: dict[str, str], first: dt.date, last: dt.date,
             rng: random.Random) -> list[tuple[str, int]]:
    tz = zone()
    out = []
    day = first
    while day <= last:
        if day.isoweekday() <= 5:
            for number in numbers:
                luck = rng.random()
                if luck < 0.03:
                    continue  # absent
                arrive = dt.datetime.combine(day, dt.time(8, 15), tz) + dt.timedelta(
                    minutes=rng.randrange(0, 14) + (rng.randrange(10, 40) if luck < 0.12 else 0))
                leave = dt.datetime.combine(day, dt.time(17, 32), tz) + dt.timedelta(
                    minutes=rng.randrange(0, 40) - (rng.randrange(20, 60) if luck > 0.95 else 0))
                out.append((cards[number], int(arrive.timestamp())))
                if luck > 0.06 or luck < 0.05:  # a forgotten punch now and then
                    out.append((cards[number], int(leave.timestamp())))
        day += dt.timedelta(days=1)
    return sorted(out, key=lambda p: p[1])


def demo_attendance(*, by: Any, clock: Terminal, staff: dict[str, str], today: dt.date,
                    rng: random.Random, channel: str) -> int:
    """Roster `staff` (number -> card number) on a day shift from the first of last month
    to the end of this one and punch their working days before today; returns the
    number of daily results made."""
    services.shift_create(code="day", name="Day 08:30-17:30", start=dt.time(8, 30),
                          end=dt.time(17, 30), grace_minutes=5, break_minutes=60,
                          overtime_after_minutes=30, by=by, channel=channel)
    first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    last = (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    entries: list[dict[str, Any]] = []
    for number in staff:
        entries.append({"cardholder": number, "from": first, "to": last,
                        "weekdays": [1, 2, 3, 4, 5], "shift": "day"})
        entries.append({"cardholder": number, "from": first, "to": last,
                        "weekdays": [6, 7], "shift": None})
    services.roster_put(entries=entries, by=by, channel=channel)
    punches = _punches(list(staff), staff, first, today - dt.timedelta(days=1), rng)
    seq = 0
    for i in range(0, len(punches), BATCH):
        records = []
        for card_no, ts in punches[i:i + BATCH]:
            seq += 1
            records.append({"type": "punch", "terminal_seq": seq, "ts": ts,
                            "card_no": card_no})
        records_ingest(terminal=clock, records=records)
    compute.results_compute(compute.rostered_days(None, first, today - dt.timedelta(days=1)))
    compute.pending_days_compute()
    return len(compute.rostered_days(None, first, today - dt.timedelta(days=1)))
