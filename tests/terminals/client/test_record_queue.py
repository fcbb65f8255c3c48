"""A terminal's queue keeps its records and numbers through restarts and crashes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from terminals.client.queue import RecordQueue

REPO_ROOT = Path(__file__).resolve().parents[3]


def record(seq: int, **extra) -> dict:
    return {"type": "punch", "terminal_seq": seq, "ts": 1795000000 + seq, "card_no": "20260001",
            **extra}


def fill(queue: RecordQueue, n: int) -> None:
    for _ in range(n):
        queue.append(record(queue.next_seq()))


def test_numbers_start_at_one_and_continue_after_a_restart(tmp_path):
    path = tmp_path / "pos.sqlite3"
    with RecordQueue(path) as queue:
        assert queue.next_seq() == 1
        fill(queue, 3)
        assert queue.next_seq() == 4

    with RecordQueue(path) as queue:
        assert queue.next_seq() == 4
        assert [r["terminal_seq"] for r in queue.unsent(10)] == [1, 2, 3]
        assert queue.count() == 3 and queue.last_seq() == 3


def test_numbers_forgotten_after_upload_are_never_handed_out_again(tmp_path):
    path = tmp_path / "pos.sqlite3"
    with RecordQueue(path) as queue:
        fill(queue, 5)
        assert queue.forget_upto(5) == 5
        assert queue.unsent(10) == [] and queue.count() == 0
    with RecordQueue(path) as queue:
        assert queue.next_seq() == 6


def test_forget_upto_deletes_only_what_the_server_holds(tmp_path):
    with RecordQueue(tmp_path / "q") as queue:
        fill(queue, 10)
        assert queue.forget_upto(4) == 4
        assert [r["terminal_seq"] for r in queue.unsent(3)] == [5, 6, 7], "oldest first"
        assert queue.forget_upto(2) == 0, "an older answer deletes nothing more"
        assert queue.next_seq() == 11


def test_a_number_whose_record_was_never_stored_is_used_for_the_next_record(tmp_path):
    """A sale the card refused made no record: its number names the next one, so the
    server never sees a gap."""
    with RecordQueue(tmp_path / "q") as queue:
        fill(queue, 2)
        assert queue.next_seq() == 3
        assert queue.next_seq() == 3
        queue.append(record(3))
        assert queue.next_seq() == 4


def test_records_must_come_in_order_without_gaps_or_repeats(tmp_path):
    with RecordQueue(tmp_path / "q") as queue:
        fill(queue, 2)
        for bad in (2, 4, 0):
            with pytest.raises(ValueError):
                queue.append(record(bad))
        assert queue.count() == 2


def test_a_server_that_already_holds_more_moves_the_counter_past_it(tmp_path):
    """A terminal whose storage was replaced learns from highest_contiguous_seq."""
    with RecordQueue(tmp_path / "q") as queue:
        queue.forget_upto(120)
        assert queue.next_seq() == 121


def test_a_record_appended_just_before_a_crash_is_there_after_restart(tmp_path):
    path = tmp_path / "pos.sqlite3"
    program = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from terminals.client.queue import RecordQueue
        queue = RecordQueue({str(path)!r})
        for _ in range(3):
            seq = queue.next_seq()
            queue.append({{"type": "punch", "terminal_seq": seq, "ts": 1, "card_no": "20260001"}})
        queue.put("blacklist_version", 7)
        os._exit(0)  # no close, no cleanup: as if the power went
    """)
    subprocess.run([sys.executable, "-c", program], check=True, timeout=60)

    with RecordQueue(path) as queue:
        assert [r["terminal_seq"] for r in queue.unsent(10)] == [1, 2, 3]
        assert queue.get("blacklist_version") == 7
        assert queue.next_seq() == 4


def test_the_database_runs_in_wal_mode_with_full_sync(tmp_path):
    with RecordQueue(tmp_path / "q") as queue:
        db = queue._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_blacklist_deltas_add_and_remove_and_a_full_list_replaces(tmp_path):
    path = tmp_path / "q"
    with RecordQueue(path) as queue:
        assert queue.blacklist_version() == 0
        queue.blacklist_apply(version=3, full=True, add=["20260001", "20260002"])
        queue.blacklist_apply(version=5, full=False, add=["20260003"], remove=["20260001"])
        assert queue.blacklist_cards() == {"20260002", "20260003"}
        assert queue.blacklisted("20260003") and not queue.blacklisted("20260001")
    with RecordQueue(path) as queue:
        assert queue.blacklist_version() == 5
        queue.blacklist_apply(version=9, full=True, add=["20260009"])
        assert queue.blacklist_cards() == {"20260009"}


def test_small_values_and_written_loads_are_kept(tmp_path):
    path = tmp_path / "q"
    with RecordQueue(path) as queue:
        queue.put("config", {"config_version": 4, "params": {"mode": "menu"}})
        queue.append(record(1, load_id="L-1"))
        queue.forget_upto(1)
    with RecordQueue(path) as queue:
        assert queue.get("config")["params"]["mode"] == "menu"
        assert queue.get("missing", 42) == 42
        assert queue.load_written("L-1") and not queue.load_written("L-2")
