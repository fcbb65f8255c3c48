"""What attendance does when terminals reports accepted records (connected in
AttendanceConfig.ready()); it runs inside the ingest's transaction."""

from __future__ import annotations

from typing import Any

from attendance.services import punches_heard
from terminals.models import RecordType
from terminals.selectors import punches_of_batch


def on_records_accepted(*, terminal: Any, records: list[tuple[int, str]],
                        **_kwargs: Any) -> None:
    seqs = [seq for seq, kind in records if kind == RecordType.PUNCH]
    if seqs:  # the days these punches may belong to are marked, computed after commit
        punches_heard(punches_of_batch(terminal=terminal, seqs=seqs))
