"""What attendance does when terminals reports accepted records, and when the shared
holiday calendar changes (connected in AttendanceConfig.ready()); each runs inside the
transaction that made the change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from attendance import compute
from attendance.models import ExceptionKind
from attendance.services import punches_heard
from terminals.models import RecordType
from terminals.selectors import punches_of_batch


def on_holiday_changed(*, date: dt.date, **_kwargs: Any) -> None:
    """A holiday added or taken away: that day of everyone rostered on it (and its
    neighbours, whose punch windows may reach into it) is computed again."""
    compute.days_queue({(h, d + k * compute.DAY)
                        for h, d in compute.rostered_days(None, date, date) for k in (-1, 0, 1)},
                       cause=ExceptionKind.CHANGE)


def on_records_accepted(*, terminal: Any, records: list[tuple[int, str]],
                        **_kwargs: Any) -> None:
    seqs = [seq for seq, kind in records if kind == RecordType.PUNCH]
    if seqs:  # the days these punches may belong to are marked, computed after commit
        punches_heard(punches_of_batch(terminal=terminal, seqs=seqs))
