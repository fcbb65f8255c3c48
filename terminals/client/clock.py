"""`AttendanceClock`: a time clock at a building's entrance. A card held to it is a
`punch` record (the card and the moment, nothing else: the server decides which shift
and day it belongs to); the clock keeps them in its queue and uploads them when it is
online, hours or days later if it was not."""

from __future__ import annotations

from typing import Any

from terminals.client.terminal import Terminal

ATTENDANCE = "attendance"
PUNCH = "punch"


class AttendanceClock(Terminal):
    kind = ATTENDANCE

    def punch(self, card_no: str, ts: int | None = None) -> dict[str, Any]:
        """A card at the clock at `ts` (now by default), queued for good."""
        record: dict[str, Any] = {"type": PUNCH, "terminal_seq": self.queue.next_seq(),
                                  "ts": self.now() if ts is None else ts, "card_no": card_no}
        self.queue.append(record)
        return record
