"""The gateway's durable queue (serial-bus.md §4): SQLite in WAL mode with
synchronous=FULL, so a commit that returned survives a power cut. The gateway ACKs a
reader only after `take_custody` returned.

A terminal's own `RecordQueue` numbers its records itself and insists on gapless
appends; here the readers number them, so records are keyed (terminal_id,
terminal_seq) as they come:

- a record not seen before is stored, pending upload;
- the same record again (a reader re-sends what it sent before its ACK was lost) is
  ignored;
- a different record under a key already held is kept in `conflicts` and reported
  as a fault: nothing received is thrown away, and the server's copy stays the one
  the ledger saw first.

`forget_upto` marks a reader's records up to the server's `highest_contiguous_seq` as
on the server. Their bodies stay a while (the newest `KEEP_DONE` per reader), so that
a record re-sent after the gateway forgot it is still recognised as a repeat; one
older than that is stored again and uploaded, and the server answers `duplicate`
(or `conflict`) without posting anything.

The current blacklist, as the gateway last fetched it, lives here too, with the
deltas that led to it, so a reader a few versions behind gets just the changes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from terminals.client.durable import DurableDB

KEEP_DONE = 1000
KEEP_STEPS = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    terminal_id TEXT NOT NULL, seq INTEGER NOT NULL, digest TEXT NOT NULL,
    body TEXT NOT NULL, received_at REAL NOT NULL, done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (terminal_id, seq));
CREATE INDEX IF NOT EXISTS records_pending ON records (terminal_id, done, seq);
CREATE TABLE IF NOT EXISTS conflicts (
    id INTEGER PRIMARY KEY, terminal_id TEXT NOT NULL, seq INTEGER NOT NULL,
    body TEXT NOT NULL, received_at REAL NOT NULL, reported INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS forgotten (terminal_id TEXT PRIMARY KEY, upto INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS blacklist (card_no TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS blacklist_steps (
    from_version INTEGER PRIMARY KEY, to_version INTEGER NOT NULL,
    body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
BLACKLIST_VERSION = "blacklist_version"


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _body(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Custody:
    """What `take_custody` did with one POLL answer."""

    stored: int
    repeated: int
    conflicts: list[int]  # terminal_seqs held already with other content
    highest_seq: int  # the number to ACK (0: none)


@dataclass(frozen=True)
class ListDelta:
    version: int
    add: list[str]
    remove: list[str]


class GatewayStore(DurableDB):
    """One connection, one lock: the bus thread and the upload threads share it."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(path, _SCHEMA)

    def __enter__(self) -> GatewayStore:
        return self

    # --- Custody ---------------------------------------------------------------------------

    def take_custody(self, terminal_id: str, records: Sequence[dict[str, Any]]) -> Custody:
        """Commit a POLL answer's records, in one transaction; then the reader may be
        ACKed up to `highest_seq`."""
        stored = repeated = 0
        conflicts: list[int] = []
        now = time.time()
        with self._transaction() as db:
            for record in records:
                seq, body = int(record["terminal_seq"]), _body(record)
                digest = _digest(body)
                held = db.execute("SELECT digest FROM records WHERE terminal_id = ? AND seq = ?",
                                  (terminal_id, seq)).fetchone()
                if held is None:
                    db.execute("INSERT INTO records (terminal_id, seq, digest, body, received_at)"
                               " VALUES (?, ?, ?, ?, ?)", (terminal_id, seq, digest, body, now))
                    stored += 1
                elif held[0] == digest:
                    repeated += 1
                else:
                    db.execute("INSERT INTO conflicts (terminal_id, seq, body, received_at) "
                               "VALUES (?, ?, ?, ?)", (terminal_id, seq, body, now))
                    conflicts.append(seq)
        highest = max((int(r["terminal_seq"]) for r in records), default=0)
        return Custody(stored, repeated, conflicts, highest)

    def pending(self, terminal_id: str, limit: int = 500) -> list[dict[str, Any]]:
        """A reader's records the server has not covered yet, oldest first."""
        rows = self._rows("SELECT body FROM records WHERE terminal_id = ? AND done = 0 "
                          "ORDER BY seq LIMIT ?", terminal_id, limit)
        return [json.loads(body) for (body,) in rows]

    def pending_count(self, terminal_id: str | None = None) -> int:
        if terminal_id is None:
            return int(self._scalar("SELECT COUNT(*) FROM records WHERE done = 0"))
        return int(self._scalar("SELECT COUNT(*) FROM records WHERE terminal_id = ? AND done = 0",
                                terminal_id))

    def last_seq(self, terminal_id: str) -> int:
        """The highest terminal_seq received from this reader."""
        held = self._scalar("SELECT MAX(seq) FROM records WHERE terminal_id = ?", terminal_id)
        return max(int(held or 0), self.forgotten_upto(terminal_id))

    def forgotten_upto(self, terminal_id: str) -> int:
        upto = self._scalar("SELECT upto FROM forgotten WHERE terminal_id = ?", terminal_id)
        return int(upto or 0)

    def forget_upto(self, terminal_id: str, seq: int) -> int:
        """The server holds every record of this reader up to `seq`; returns how many
        pending ones that covered."""
        with self._transaction() as db:
            covered = db.execute("UPDATE records SET done = 1 WHERE terminal_id = ? AND seq <= ? "
                                 "AND done = 0", (terminal_id, seq)).rowcount
            db.execute("INSERT INTO forgotten (terminal_id, upto) VALUES (?, ?) ON CONFLICT "
                       "(terminal_id) DO UPDATE SET upto = MAX(upto, excluded.upto)",
                       (terminal_id, seq))
            db.execute("DELETE FROM records WHERE terminal_id = ? AND done = 1 AND seq <= "
                       "(SELECT MAX(seq) FROM records WHERE terminal_id = ? AND done = 1) - ?",
                       (terminal_id, terminal_id, KEEP_DONE))
        return covered

    def conflicts(self, terminal_id: str) -> list[dict[str, Any]]:
        rows = self._rows("SELECT seq, body FROM conflicts WHERE terminal_id = ? ORDER BY id",
                          terminal_id)
        return [{"terminal_seq": seq, "record": json.loads(body)} for seq, body in rows]

    def conflicts_unreported(self, terminal_id: str) -> list[tuple[int, int]]:
        """(id, terminal_seq) of the conflicts no heartbeat has reported yet."""
        rows = self._rows("SELECT id, seq FROM conflicts WHERE terminal_id = ? AND reported = 0 "
                          "ORDER BY id", terminal_id)
        return [(int(i), int(seq)) for i, seq in rows]

    def conflicts_reported(self, ids: Iterable[int]) -> None:
        with self._transaction() as db:
            db.executemany("UPDATE conflicts SET reported = 1 WHERE id = ?", [(i,) for i in ids])

    # --- Small values ------------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        value = self._scalar("SELECT value FROM meta WHERE key = ?", key)
        return default if value is None else json.loads(value)

    def put(self, key: str, value: Any, db: sqlite3.Connection | None = None) -> None:
        sql = ("INSERT INTO meta (key, value) VALUES (?, ?) "
               "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        if db is not None:
            db.execute(sql, (key, json.dumps(value)))
            return
        with self._transaction() as tx:
            tx.execute(sql, (key, json.dumps(value)))

    # --- The blacklist -------------------------------------------------------------------------

    def blacklist_version(self) -> int:
        return int(self.get(BLACKLIST_VERSION, 0))

    def blacklist_cards(self) -> list[str]:
        return [c for (c,) in self._rows("SELECT card_no FROM blacklist ORDER BY card_no")]

    def blacklist_apply(self, *, version: int, full: bool, add: Iterable[str],
                        remove: Iterable[str]) -> None:
        """A server answer to `blacklist?since=current`. A full list replaces the set and
        the steps (a reader behind it then gets CLEAR and the list); a delta is kept as
        the step from the old version to the new."""
        add, remove = sorted(set(add)), sorted(set(remove))
        with self._transaction() as db:
            old = self.blacklist_version()
            if version == old and not full:
                return
            if full:
                db.execute("DELETE FROM blacklist")
                db.execute("DELETE FROM blacklist_steps")
            else:
                db.execute("INSERT OR REPLACE INTO blacklist_steps VALUES (?, ?, ?)",
                           (old, version, json.dumps({"add": add, "remove": remove})))
                db.execute("DELETE FROM blacklist_steps WHERE from_version < ("
                           "SELECT MIN(from_version) FROM (SELECT from_version FROM "
                           "blacklist_steps ORDER BY from_version DESC LIMIT ?))", (KEEP_STEPS,))
            db.executemany("DELETE FROM blacklist WHERE card_no = ?", [(c,) for c in remove])
            db.executemany("INSERT OR IGNORE INTO blacklist VALUES (?)", [(c,) for c in add])
            self.put(BLACKLIST_VERSION, version, db)

    def blacklist_delta(self, since: int) -> ListDelta | None:
        """The net changes from `since` to the current version, or None when the steps
        do not reach back to `since` (the reader needs CLEAR and the full list)."""
        current = self.blacklist_version()
        steps = {f: (t, json.loads(b)) for f, t, b in
                 self._rows("SELECT from_version, to_version, body FROM blacklist_steps")}
        add: set[str] = set()
        remove: set[str] = set()
        version = since
        while version != current:
            if version not in steps or version > current:
                return None
            version, step = steps[version]
            for card in step["remove"]:
                add.discard(card)
                remove.add(card)
            for card in step["add"]:
                remove.discard(card)
                add.add(card)
        return ListDelta(current, sorted(add), sorted(remove))
