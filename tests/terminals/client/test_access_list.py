"""The access list a door controller holds, and its offline decision, against hand-built
lists (terminal-protocol.md §5): grants and their doors, schedule windows by ISO weekday
and across midnight, holidays, a visitor's from/to, combined schedules narrowed to doors
and periods, deltas, lockdowns, unlocked hours with first-card unlock, anti-passback;
and the `DoorTerminal` that polls, decides, records and reports its version. No server
and no Django: the controller's side of the contract on its own."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminals.client.access import (
    ANTIPASSBACK_SOFT,
    AccessList,
    AccessListError,
    Decision,
    Passages,
    Window,
)
from terminals.client.door import DoorTerminal
from terminals.client.queue import RecordQueue

TZ = ZoneInfo("Asia/Shanghai")
A, B, C = "20260001", "20260002", "20260003"


def ts(text: str) -> int:
    """Epoch seconds of a local time; 2030-01-07 is a Monday."""
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp())


def win(days: list[int], start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"days": days, "from": start, "to": end, **extra}


def full(grants: list[dict[str, Any]], schedules: dict[str, list[dict[str, Any]]], *,
         version: int = 1, **extra: Any) -> dict[str, Any]:
    return {"version": version, "full": True, "schedules": schedules, "grants": grants,
            "revoke": [], "holidays": [], **extra}


def grant(card_no: str, doors: list[int], schedule: str, **extra: Any) -> dict[str, Any]:
    return {"card_no": card_no, "doors": doors, "schedule": schedule, **extra}


OFFICE = {"office": [win([1, 2, 3, 4, 5], "07:30", "19:00")]}


def held(answer: dict[str, Any]) -> AccessList:
    access = AccessList("Asia/Shanghai")
    access.apply(answer)
    return access


def pair(access: AccessList, card_no: str, door: int, moment: str, **kw: Any,
         ) -> tuple[bool, str | None]:
    return access.decide(card_no, door, ts(moment), **kw).as_pair()


GRANTED = (True, None)


# --- Grants and schedules -------------------------------------------------------------------


def test_a_grant_opens_its_doors_in_its_schedule_only():
    access = held(full([grant(A, [1, 2], "office")], OFFICE))

    assert pair(access, A, 1, "2030-01-07 07:30") == GRANTED
    assert pair(access, A, 2, "2030-01-11 18:59") == GRANTED
    assert pair(access, A, 1, "2030-01-07 07:29") == (False, "schedule")
    assert pair(access, A, 1, "2030-01-07 19:00") == (False, "schedule"), "end excluded"
    assert pair(access, A, 1, "2030-01-12 10:00") == (False, "schedule"), "Saturday"
    assert pair(access, A, 3, "2030-01-07 10:00") == (False, "not_allowed")
    assert pair(access, B, 1, "2030-01-07 10:00") == (False, "not_allowed"), "no grant"
    assert pair(access, A, 1, "2030-01-07 10:00", blacklisted=True) == (False, "blacklisted")


def test_windows_across_midnight_start_on_their_listed_day():
    access = held(full([grant(A, [1], "night"), grant(B, [1], "sunday-night")],
                       {"night": [win([5], "22:00", "06:00")],
                        "sunday-night": [win([7], "23:00", "01:00")]}))

    assert pair(access, A, 1, "2030-01-11 22:00") == GRANTED, "Friday evening"
    assert pair(access, A, 1, "2030-01-12 05:59") == GRANTED, "into Saturday"
    assert pair(access, A, 1, "2030-01-12 06:00") == (False, "schedule")
    assert pair(access, A, 1, "2030-01-11 05:00") == (False, "schedule"), "Thursday night is not"
    assert pair(access, A, 1, "2030-01-12 22:30") == (False, "schedule")
    assert pair(access, B, 1, "2030-01-14 00:30") == GRANTED, "Sunday's window into Monday"
    assert pair(access, B, 1, "2030-01-13 00:30") == (False, "schedule")


def test_midnight_to_midnight_is_the_whole_day_and_several_windows_a_day_add_up():
    access = held(full([grant(A, [1], "all"), grant(B, [1], "split")],
                       {"all": [win([3], "00:00", "00:00")],
                        "split": [win([1], "08:00", "12:00"), win([1], "14:00", "18:00")]}))

    assert pair(access, A, 1, "2030-01-09 00:00") == GRANTED
    assert pair(access, A, 1, "2030-01-09 23:59") == GRANTED
    assert pair(access, A, 1, "2030-01-10 00:00") == (False, "schedule")
    assert pair(access, B, 1, "2030-01-07 11:59") == GRANTED
    assert pair(access, B, 1, "2030-01-07 13:00") == (False, "schedule")
    assert pair(access, B, 1, "2030-01-07 14:00") == GRANTED


def test_a_holiday_closes_the_windows_not_open_on_holidays_by_the_date_of_the_moment():
    schedules = {"office": [win([1, 2, 3, 4, 5], "07:30", "19:00")],
                 "guard": [win([1, 2, 3, 4, 5, 6, 7], "00:00", "00:00", holidays="open")],
                 "night": [win([1], "22:00", "06:00")]}
    access = held(full([grant(A, [1], "office"), grant(B, [1], "guard"), grant(C, [1], "night")],
                       schedules, holidays=["2030-01-08"]))

    assert pair(access, A, 1, "2030-01-08 10:00") == (False, "schedule"), "Tuesday, a holiday"
    assert pair(access, A, 1, "2030-01-09 10:00") == GRANTED
    assert pair(access, B, 1, "2030-01-08 10:00") == GRANTED, "a schedule open on holidays"
    assert pair(access, C, 1, "2030-01-07 23:00") == GRANTED
    assert pair(access, C, 1, "2030-01-08 01:00") == (False, "schedule"), \
        "Monday's night window, but the moment falls on the holiday"


def test_a_visitor_grant_holds_from_its_start_to_its_end():
    start, end = ts("2030-01-07 09:00"), ts("2030-01-07 17:00")
    access = held(full([grant(A, [1], "always", **{"from": start, "to": end})],
                       {"always": [win([1, 2, 3, 4, 5, 6, 7], "00:00", "00:00",
                                       holidays="open")]}))

    assert pair(access, A, 1, "2030-01-07 08:59") == (False, "not_allowed")
    assert pair(access, A, 1, "2030-01-07 09:00") == GRANTED
    assert pair(access, A, 1, "2030-01-07 16:59") == GRANTED
    assert pair(access, A, 1, "2030-01-07 17:00") == (False, "not_allowed"), "end excluded"


def test_a_combined_schedule_decides_each_door_by_its_own_windows_and_periods():
    start, end = ts("2030-01-12 10:00"), ts("2030-01-12 12:00")
    combo = [win([1, 2, 3, 4, 5], "07:30", "19:00", doors=[1]),
             win([1, 2, 3, 4, 5, 6, 7], "00:00", "00:00", holidays="open", doors=[2],
                 valid_from=start, valid_to=end),
             win([6], "09:00", "11:00")]
    access = held(full([grant(A, [1, 2], "combo-0123456789abcdef")],
                       {"combo-0123456789abcdef": combo}))

    assert pair(access, A, 1, "2030-01-07 08:00") == GRANTED
    assert pair(access, A, 2, "2030-01-07 08:00") == (False, "schedule"), \
        "door 2's only unnarrowed window is Saturday's"
    assert pair(access, A, 2, "2030-01-12 11:30") == GRANTED, "the visitor's period"
    assert pair(access, A, 2, "2030-01-12 12:30") == (False, "schedule")
    assert pair(access, A, 1, "2030-01-12 10:30") == GRANTED, "Saturday's window, any door"
    only_period = held(full([grant(B, [2], "combo-fedcba9876543210")],
                            {"combo-fedcba9876543210": [combo[1]]}))
    assert pair(only_period, B, 2, "2030-01-12 09:00") == (False, "not_allowed"), \
        "no window for the door in force: as if no grant named it"


# --- Deltas ----------------------------------------------------------------------------------


def test_a_delta_replaces_grants_revokes_cards_and_keeps_what_it_does_not_carry():
    access = held(full([grant(A, [1], "office"), grant(B, [1, 2], "office")], OFFICE,
                       holidays=["2030-01-08"], doors=[{"door": 1, "mode": "open"}]))

    access.apply({"version": 4, "full": False,
                  "schedules": {"weekend": [win([6, 7], "10:00", "16:00")]},
                  "grants": [grant(A, [2], "weekend")], "revoke": [B]})

    assert access.version == 4
    assert set(access.grants) == {A}
    assert pair(access, A, 2, "2030-01-12 11:00") == GRANTED
    assert pair(access, A, 2, "2030-01-07 11:00") == (False, "schedule")
    assert pair(access, B, 2, "2030-01-07 11:00") == (False, "not_allowed")
    assert access.holidays == {dt.date(2030, 1, 8)}, "kept: the delta named none"
    assert pair(access, B, 1, "2030-01-07 11:00") == GRANTED, "door 1 still held open"

    access.apply({"version": 5, "full": False, "schedules": {}, "grants": [], "revoke": [],
                  "doors": [], "holidays": []})
    assert pair(access, B, 1, "2030-01-07 11:00") == (False, "not_allowed"), "lockdown ended"
    assert access.holidays == frozenset()

    access.apply(full([grant(C, [1], "office")], OFFICE, version=9))
    assert set(access.grants) == {C} and access.version == 9, "a full list replaces all"


@pytest.mark.parametrize("answer", [
    {"full": True},
    {"version": "7", "full": True},
    {"version": 7, "full": True, "grants": [{"card_no": A, "doors": "x", "schedule": "s"}]},
    {"version": 7, "full": True, "schedules": {"s": [win([8], "07:00", "08:00")]}},
    {"version": 7, "full": True, "schedules": {"s": [win([1], "7h", "08:00")]}},
    {"version": 7, "full": True, "doors": [{"door": 1, "mode": "ajar"}]},
    {"version": 7, "full": True, "holidays": ["2030-02-30"]},
])
def test_an_answer_it_cannot_read_leaves_the_list_as_it_was(answer):
    access = held(full([grant(A, [1], "office")], OFFICE, version=3))

    with pytest.raises(AccessListError) as caught:
        access.apply(answer)

    assert access.version == 3 and set(access.grants) == {A}
    assert "access list" in caught.value.text("en")
    assert "门禁名单" in caught.value.text("zh-hans")


# --- The doors block ----------------------------------------------------------------------------


def test_a_locked_door_lets_only_its_excepted_cards_in_and_an_open_one_everyone():
    doors = [{"door": 1, "mode": "locked", "except": [C]}, {"door": 2, "mode": "open"}]
    access = held(full([grant(A, [1, 2], "office")], OFFICE, doors=doors))

    assert pair(access, A, 1, "2030-01-07 10:00") == (False, "lockdown")
    assert pair(access, C, 1, "2030-01-12 03:00") == GRANTED, "whatever their grants"
    assert pair(access, B, 2, "2030-01-12 03:00") == GRANTED
    assert pair(access, C, 1, "2030-01-07 10:00", blacklisted=True) == (False, "blacklisted")
    assert pair(access, A, 3, "2030-01-07 10:00") == (False, "not_allowed"), "no block: normal"


def test_unlocked_hours_with_first_card_wait_for_a_first_card_holder_that_day():
    doors = [{"door": 1, "unlock_schedule": "lab-hours", "first_card": [C]},
             {"door": 2, "unlock_schedule": "lab-hours", "first_card": None}]
    schedules = {**OFFICE, "lab-hours": [win([1, 2, 3, 4, 5], "08:00", "18:00")]}
    access = held(full([grant(C, [1], "office")], schedules, doors=doors))
    passages = Passages()

    assert pair(access, B, 2, "2030-01-07 09:00") == GRANTED, "no first-card rule"
    assert pair(access, B, 2, "2030-01-07 19:00") == (False, "not_allowed"), "after hours"
    assert pair(access, B, 1, "2030-01-07 09:00", passages=passages) == (False, "not_allowed")
    supervisor = access.decide(C, 1, ts("2030-01-07 09:05"), passages=passages)
    assert supervisor.granted
    passages.remember(C, 1, access.door(1), access.local(ts("2030-01-07 09:05")), supervisor)
    assert pair(access, B, 1, "2030-01-07 09:06", passages=passages) == GRANTED
    assert pair(access, B, 1, "2030-01-07 18:30", passages=passages) == (False, "not_allowed")
    assert pair(access, B, 1, "2030-01-08 09:06", passages=passages) == (False, "not_allowed"), \
        "a new day waits for its own first card"


def test_anti_passback_judges_a_second_entry_by_the_last_passage_in_the_area():
    doors = [{"door": 1, "direction": "entry", "antipassback": "hard"},
             {"door": 2, "direction": "exit", "antipassback": "hard"},
             {"door": 3, "direction": "entry", "antipassback": "soft", "area": "library"},
             {"door": 4, "direction": "exit", "antipassback": "soft", "area": "library"}]
    always = {"always": [win([1, 2, 3, 4, 5, 6, 7], "00:00", "00:00")]}
    access = held(full([grant(A, [1, 2, 3, 4], "always")], always, doors=doors))
    passages = Passages()

    def badge(door: int, moment: str) -> Decision:
        decision = access.decide(A, door, ts(moment), passages=passages)
        passages.remember(A, door, access.door(door), access.local(ts(moment)), decision)
        return decision

    assert badge(1, "2030-01-07 08:00") == Decision(True)
    assert badge(1, "2030-01-07 08:01") == Decision(False, "antipassback")
    assert badge(2, "2030-01-07 12:00") == Decision(True)
    assert badge(1, "2030-01-07 13:00") == Decision(True)
    assert badge(3, "2030-01-07 13:05") == Decision(True), "another area: its own passages"
    assert badge(3, "2030-01-07 13:06") == Decision(True, flag=ANTIPASSBACK_SOFT)
    assert Passages.from_json(passages.as_json()) == passages


# --- Properties ----------------------------------------------------------------------------------

WEEK = 7 * 24 * 60
TIMES = st.integers(0, 23 * 60 + 59).map(lambda m: f"{m // 60:02d}:{m % 60:02d}")
WINDOWS = st.builds(lambda days, start, end: win(sorted(days), start, end),
                    st.sets(st.integers(1, 7), min_size=1), TIMES, TIMES)
MOMENTS = st.integers(ts("2030-01-07 00:00"), ts("2030-01-07 00:00") + 14 * 86_400)


def minute_of_week(moment: int) -> int:
    local = dt.datetime.fromtimestamp(moment, TZ)
    return (local.isoweekday() - 1) * 1440 + local.hour * 60 + local.minute


def open_by_interval(w: dict[str, Any], moment: int) -> bool:
    """A window as intervals of the week: from each listed day's start, for the minutes
    to its end (a whole day when they are equal), wrapping from Sunday to Monday."""
    start, end = (int(w[k][:2]) * 60 + int(w[k][3:]) for k in ("from", "to"))
    length = (end - start) % 1440 or 1440
    minute = minute_of_week(moment)
    return any((minute - ((day - 1) * 1440 + start)) % WEEK < length for day in w["days"])


@given(WINDOWS, MOMENTS)
def test_a_window_is_open_exactly_within_its_weekly_intervals(window, moment):
    decision = held(full([grant(A, [1], "s")], {"s": [window]})).decide(A, 1, moment)

    assert decision.granted == open_by_interval(window, moment)
    assert decision.granted or decision.reason == "schedule"


CARDS = st.sampled_from([A, B, C, "20260004"])
GRANT = st.builds(lambda card, doors, schedule: grant(card, sorted(doors), schedule),
                  CARDS, st.sets(st.integers(1, 3), min_size=1), st.sampled_from(["s0", "s1"]))
STATE = st.tuples(st.lists(GRANT, max_size=4),
                  st.dictionaries(st.sampled_from(["s0", "s1"]),
                                  st.lists(WINDOWS, min_size=1, max_size=2), min_size=2),
                  st.lists(st.sampled_from(["2030-01-08", "2030-01-12", "2030-01-15"]),
                           unique=True))


def state_answer(state: Any, version: int) -> dict[str, Any]:
    grants, schedules, holidays = state
    by_card = {g["card_no"]: g for g in grants}
    return full(list(by_card.values()), schedules, version=version, holidays=sorted(holidays))


def delta_between(old: Any, new: Any, version: int) -> dict[str, Any]:
    """What a server sends from one state to the next: changed grants, revoked cards,
    every schedule, and the holidays."""
    before = {g["card_no"]: g for g in state_answer(old, 1)["grants"]}
    after = {g["card_no"]: g for g in state_answer(new, 2)["grants"]}
    return {"version": version, "full": False, "schedules": new[1],
            "grants": [g for c, g in after.items() if before.get(c) != g],
            "revoke": sorted(set(before) - set(after)), "holidays": sorted(new[2])}


@given(STATE, STATE, st.lists(st.tuples(CARDS, st.integers(1, 3), MOMENTS), max_size=8))
def test_a_list_kept_by_deltas_decides_as_the_full_list_of_the_same_version(old, new, badges):
    by_delta = held(state_answer(old, 1))
    by_delta.apply(delta_between(old, new, 2))
    whole = held(state_answer(new, 2))
    kept = AccessList.from_json(by_delta.as_json())

    for card, door, moment in badges:
        expected = whole.decide(card, door, moment)
        assert by_delta.decide(card, door, moment) == expected
        assert kept.decide(card, door, moment) == expected, "as kept on disk"


@given(st.builds(Window.of, WINDOWS), MOMENTS)
def test_a_holiday_shuts_a_window_unless_it_opens_on_holidays(window, moment):
    local = dt.datetime.fromtimestamp(moment, TZ)
    holiday = frozenset({local.date()})

    assert not window.open_at(local, holiday)
    assert Window(window.days, window.start, window.end, holidays_open=True).open_at(
        local, holiday) == window.open_at(local, frozenset())


# --- The door controller -------------------------------------------------------------------


class FakeServer:
    """The terminal API as a door controller's client calls it, in memory."""

    terminal_id = "DOOR-0001"

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers
        self.asked: list[int] = []
        self.uploaded: list[dict[str, Any]] = []
        self.heartbeats: list[dict[str, Any]] = []

    def timestamp(self) -> int:
        return ts("2030-01-07 10:00")

    def access_list(self, since: int) -> dict[str, Any]:
        self.asked.append(since)
        return self.answers.pop(0)

    def blacklist(self, since: int) -> dict[str, Any]:
        return {"version": 5, "full": since == 0, "add": [B] if since == 0 else [],
                "remove": []}

    def config(self) -> dict[str, Any]:
        return {"config_version": 1, "kind": "door", "params": {}}

    def upload(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        self.uploaded += records
        return {"results": [{"terminal_seq": r["terminal_seq"], "status": "accepted"}
                            for r in records],
                "highest_contiguous_seq": records[-1]["terminal_seq"]}

    def heartbeat(self, **fields: Any) -> dict[str, Any]:
        self.heartbeats.append(fields)
        return {"config_version": 1, "access_list_version": 4}


def test_a_door_controller_polls_decides_records_and_reports_its_version(tmp_path):
    doors = [{"door": 1, "direction": "entry", "antipassback": "hard"}]
    server = FakeServer([
        full([grant(A, [1, 2], "office"), grant(C, [1], "office")], OFFICE, version=3,
             doors=doors),
        {"version": 4, "full": False, "schedules": {}, "grants": [], "revoke": [C]},
    ])
    ctl = DoorTerminal(server, RecordQueue(tmp_path / "door.sqlite3"),  # type: ignore[arg-type]
                       doors=2, retry_delay=0.01)

    ctl.sync()
    first = ctl.present(A, 1)
    second = ctl.present(A, 1)
    listed = ctl.present(B, 2)

    assert server.asked == [0] and ctl.access_list_version == 3
    assert server.heartbeats[-1]["access_list_version"] == 3
    assert first.record == {"type": "door", "terminal_seq": 1, "ts": ts("2030-01-07 10:00"),
                            "card_no": A, "door": 1, "result": "granted", "reason": None,
                            "direction": "entry"}
    assert second.record["result"] == "denied" and second.record["reason"] == "antipassback"
    assert listed.decision == Decision(False, "blacklisted") and "direction" not in listed.record
    assert first.list_version == 3 and first.queued_before == 0 and second.queued_before == 1

    ctl.sync()
    assert server.asked == [0, 3] and ctl.access_list_version == 4
    assert [r["terminal_seq"] for r in server.uploaded] == [1, 2, 3]
    assert server.heartbeats[-1]["access_list_version"] == 4
    assert ctl.present(C, 1).decision == Decision(False, "not_allowed"), "revoked"

    ctl.queue.close()
    again = DoorTerminal(server, RecordQueue(tmp_path / "door.sqlite3"),  # type: ignore[arg-type]
                         doors=2)
    assert again.access_list_version == 4, "the list survives a restart"
    assert again.present(A, 1).decision == Decision(False, "antipassback"), \
        "and so do the passages"
    with pytest.raises(ValueError):
        again.present(A, 3)
