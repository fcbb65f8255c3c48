"""`RecordQueue`: a terminal's durable memory (SQLite, WAL, synchronous=FULL).

It holds the records not yet confirmed by the server, the `terminal_seq` counter, the
blacklist the terminal applied and small key/values (config and its version).

`terminal_seq` numbers records, gaplessly: `next_seq()` is the number the next
record will carry, and it is taken for good, on disk, when `append` stores that
record. So a sale the card refused, or a crash between the card and the queue, never
leaves a hole that would hold the server's `highest_contiguous_seq` back forever; and
a number that named a record is never handed out again, even after a restart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from terminals.client.durable import DurableDB

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blacklist (card_no TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS loads_written (load_id TEXT PRIMARY KEY);
"""
# Meta keys.
FORGOTTEN_UPTO = "forgotten_upto"  # every seq up to this one is stored on the server
BLACKLIST_VERSION = "blacklist_version"


class RecordQueue(DurableDB):
    """Safe for one process: one connection, one lock around every statement."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA)

    def __enter__(self) -> RecordQueue:
        return self

    # --- Records ---------------------------------------------------------------------------

    def last_seq(self) -> int:
        """The highest terminal_seq this terminal has used (0 before the first record)."""
        stored = self._scalar("SELECT MAX(seq) FROM records") or 0
        return max(int(stored), int(self.get(FORGOTTEN_UPTO, 0)))

    def next_seq(self) -> int:
        return self.last_seq() + 1

    def append(self, record: dict[str, Any]) -> None:
        """Store a record for good; its `terminal_seq` must be `next_seq()`. A load
        record's `load_id` is remembered with it (see `load_written`)."""
        seq = record.get("terminal_seq")
        with self._transaction() as db:
            expected = self.next_seq()
            if seq != expected:
                raise ValueError(f"terminal_seq {seq} is not the next one ({expected})")
            db.execute(
                "INSERT INTO records (seq, body) VALUES (?, ?)",
                (seq, json.dumps(record, separators=(",", ":"))),
            )
            if record.get("load_id"):
                db.execute(
                    "INSERT OR IGNORE INTO loads_written (load_id) VALUES (?)", (record["load_id"],)
                )

    def load_written(self, load_id: str) -> bool:
        """Whether this terminal already wrote that pending load to a card: until the
        server has the record, the load still shows as pending and must not be written
        twice."""
        return self._scalar("SELECT 1 FROM loads_written WHERE load_id = ?", load_id) is not None

    def unsent(self, limit: int = 500) -> list[dict[str, Any]]:
        """Records the server has not confirmed, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM records ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def count(self) -> int:
        return int(self._scalar("SELECT COUNT(*) FROM records"))

    def forget_upto(self, seq: int) -> int:
        """Delete the records with terminal_seq <= seq (the server holds them all); returns
        how many were deleted. Numbers up to `seq` are never used again."""
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM records WHERE seq <= ?", (seq,)).rowcount
            if seq > int(self.get(FORGOTTEN_UPTO, 0)):
                self.put(FORGOTTEN_UPTO, seq)
        return deleted

    # --- Key/values ------------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        value = self._scalar("SELECT value FROM meta WHERE key = ?", key)
        return default if value is None else json.loads(value)

    def put(self, key: str, value: Any) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    # --- The blacklist this terminal applied -------------------------------------------------

    def blacklist_version(self) -> int:
        return int(self.get(BLACKLIST_VERSION, 0))

    def blacklist_apply(
        self, *, version: int, full: bool, add: Iterable[str], remove: Iterable[str] = ()
    ) -> None:
        """Apply a blacklist answer in one transaction: a full list replaces the set."""
        with self._transaction() as db:
            if full:
                db.execute("DELETE FROM blacklist")
            db.executemany(
                "INSERT OR IGNORE INTO blacklist (card_no) VALUES (?)", [(c,) for c in add]
            )
            db.executemany("DELETE FROM blacklist WHERE card_no = ?", [(c,) for c in remove])
            self.put(BLACKLIST_VERSION, version)

    def blacklisted(self, card_no: str) -> bool:
        return self._scalar("SELECT 1 FROM blacklist WHERE card_no = ?", card_no) is not None

    def blacklist_cards(self) -> set[str]:
        with self._lock:
            return {c for (c,) in self._db.execute("SELECT card_no FROM blacklist")}
