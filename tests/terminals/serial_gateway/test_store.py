"""The gateway's durable queue: custody before the ACK, a repeat ignored, a different
record under a held key kept aside, forgetting only what the server covers, and all of
it still there after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from terminals.serial_gateway.store import GatewayStore

pytestmark = pytest.mark.hardware


def sale(seq: int, amount: int = 300) -> dict:
    return {"type": "purchase", "terminal_seq": seq, "ts": 1_800_000_000 + seq,
            "card_no": "20260001", "card_seq": seq, "purse": "main", "amount": amount,
            "balance_before": 100_000 - seq * 300, "key_version": 1, "tac": "ab" * 8}


def test_records_taken_into_custody_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite3"
    with GatewayStore(path) as store:
        custody = store.take_custody("POS-0001", [sale(1), sale(2), sale(3)])
        assert (custody.stored, custody.highest_seq) == (3, 3)
    with GatewayStore(path) as store:  # a new process, say, after a power cut
        assert [r["terminal_seq"] for r in store.pending("POS-0001")] == [1, 2, 3]
        assert store.pending("POS-0001")[0] == sale(1)


def test_a_record_sent_again_is_ignored_and_a_different_one_kept_aside(tmp_path: Path) -> None:
    with GatewayStore(tmp_path / "q.sqlite3") as store:
        store.take_custody("POS-0001", [sale(1), sale(2)])
        again = store.take_custody("POS-0001", [sale(2), sale(3)])
        assert (again.stored, again.repeated, again.conflicts) == (1, 1, [])
        other = store.take_custody("POS-0001", [sale(3, amount=999)])
        assert (other.stored, other.conflicts, other.highest_seq) == (0, [3], 3)
        assert store.pending("POS-0001") == [sale(1), sale(2), sale(3)]  # the first one stays
        assert store.conflicts("POS-0001") == [{"terminal_seq": 3, "record": sale(3, 999)}]
        assert [seq for _id, seq in store.conflicts_unreported("POS-0001")] == [3]
        store.conflicts_reported(i for i, _seq in store.conflicts_unreported("POS-0001"))
        assert store.conflicts_unreported("POS-0001") == []


def test_readers_are_kept_apart(tmp_path: Path) -> None:
    with GatewayStore(tmp_path / "q.sqlite3") as store:
        store.take_custody("POS-0001", [sale(1)])
        store.take_custody("POS-0002", [sale(1, amount=500)])
        assert store.pending("POS-0002") == [sale(1, 500)]
        assert store.pending_count() == 2


def test_only_what_the_server_covers_is_forgotten(tmp_path: Path) -> None:
    with GatewayStore(tmp_path / "q.sqlite3") as store:
        store.take_custody("POS-0001", [sale(s) for s in range(1, 6)])
        assert store.forget_upto("POS-0001", 3) == 3
        assert [r["terminal_seq"] for r in store.pending("POS-0001")] == [4, 5]
        assert store.forget_upto("POS-0001", 3) == 0
        assert store.last_seq("POS-0001") == 5
        # The reader's ACK was lost and it sends 3 again: still known, nothing to upload.
        assert store.take_custody("POS-0001", [sale(3)]).repeated == 1
        assert store.pending_count("POS-0001") == 2


def test_blacklist_steps_give_a_reader_the_net_change_or_nothing(tmp_path: Path) -> None:
    with GatewayStore(tmp_path / "q.sqlite3") as store:
        assert store.blacklist_delta(0) is not None and store.blacklist_version() == 0
        store.blacklist_apply(version=10, full=True, add=["1", "2", "3"], remove=[])
        store.blacklist_apply(version=12, full=False, add=["4"], remove=["1"])
        store.blacklist_apply(version=13, full=False, add=["1"], remove=["4"])
        assert store.blacklist_cards() == ["1", "2", "3"]
        delta = store.blacklist_delta(10)
        assert delta is not None
        assert (delta.version, delta.add, delta.remove) == (13, ["1"], ["4"])
        assert store.blacklist_delta(12) is not None
        assert store.blacklist_delta(11) is None  # never a version here: CLEAR and the list
        assert store.blacklist_delta(0) is None
        store.blacklist_apply(version=20, full=True, add=["9"], remove=[])
        assert store.blacklist_delta(13) is None and store.blacklist_cards() == ["9"]
