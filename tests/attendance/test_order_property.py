"""The property of issue 12: daily results computed from punches uploaded in any order
and any batching (several clocks, batches sent again, the task run between batches or
only at the end) equal those computed from the same punches uploaded at once in time
order. Everything goes through the real terminal protocol and the pending-days path."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from attendance import services
from attendance.models import DayResult
from tests.attendance.clock import attendance_clock, local, task_runs
from tests.factories import StaffFactory, make_card, make_cardholder

pytestmark = pytest.mark.django_db

FIRST = dt.date(2026, 11, 2)  # a Monday
DAYS = 4
HOLDERS = ("P-DAY", "P-NIGHT")

# A punch: (holder, day offset, minute of the day, second); times cluster near the shift
# edges so late, early, missing, double taps and night-shift mornings all come up.
MINUTES = st.one_of(st.integers(0, 1439), st.integers(8 * 60, 9 * 60),
                    st.integers(17 * 60, 18 * 60 + 30), st.integers(21 * 60, 22 * 60 + 30),
                    st.integers(5 * 60 + 30, 8 * 60))
PUNCH = st.tuples(st.integers(0, len(HOLDERS) - 1), st.integers(0, DAYS), MINUTES,
                  st.integers(0, 59))


def _world() -> dict[str, Any]:
    hr = StaffFactory(role="hr")
    services.shift_create(code="day", name="Day", start=dt.time(8, 30), end=dt.time(17, 30),
                          grace_minutes=5, break_minutes=60, overtime_after_minutes=30,
                          round_in_minutes=5, round_in_direction="up", by=hr)
    services.shift_create(code="night", name="Night", start=dt.time(22, 0), end=dt.time(6, 0),
                          by=hr)
    cards = {}
    for number, shift in zip(HOLDERS, ("day", "night"), strict=True):
        cards[number] = make_card(cardholder=make_cardholder(number=number, kind="staff"))
        services.roster_put(entries=[
            {"cardholder": number, "from": FIRST, "to": FIRST + dt.timedelta(days=DAYS),
             "weekdays": [1, 2, 3, 4, 5], "shift": shift},
            {"cardholder": number, "from": FIRST, "to": FIRST + dt.timedelta(days=DAYS),
             "weekdays": [6, 7], "shift": None}], by=hr)
    return {"cards": cards, "clocks": [attendance_clock(f"clock {i}") for i in range(3)]}


def _moment(punch: tuple[int, int, int, int]) -> dt.datetime:
    _holder, day, minute, second = punch
    date = (FIRST + dt.timedelta(days=day)).isoformat()
    return local(date, f"{minute // 60:02d}:{minute % 60:02d}:{second:02d}")


def _send(clock: Any, cards: dict[str, Any], punches: list[tuple[int, int, int, int]],
          seqs: list[int] | None = None) -> list[int]:
    """Upload one batch from `clock` (with the given seqs: a batch sent again)."""
    seqs = seqs or [clock.next_seq() for _p in punches]
    records = [{"type": "punch", "terminal_seq": seq, "ts": int(_moment(p).timestamp()),
                "card_no": cards[HOLDERS[p[0]]].card_no} for seq, p in zip(seqs, punches,
                                                                          strict=True)]
    answer = clock.upload(records)
    assert answer.status_code == 200, answer.content
    assert {r["status"] for r in answer.json()["results"]} <= {"accepted", "duplicate"}
    return seqs


def _results() -> list[tuple[Any, ...]]:
    return list(DayResult.objects.order_by("cardholder__number", "date").values_list(
        "cardholder__number", "date", "shift", "status", "first_in", "last_out",
        "late_minutes", "early_minutes", "worked_minutes", "overtime_minutes",
        "overtime_kind", "corrected", "flagged"))


def _in_time_order(punches: list[tuple[int, int, int, int]]) -> list[tuple[Any, ...]]:
    with transaction.atomic():
        world = _world()
        ordered = sorted(punches, key=_moment)
        if ordered:
            _send(world["clocks"][0], world["cards"], ordered)
        task_runs()
        services.days_due_mark(day=FIRST + dt.timedelta(days=DAYS))
        task_runs()
        found = _results()
        transaction.set_rollback(True)
    return found


def test_results_do_not_depend_on_upload_order_or_batching(on_postgres: None) -> None:
    @settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(punches=st.lists(PUNCH, max_size=24), data=st.data())
    def same(punches: list[tuple[int, int, int, int]], data: st.DataObject) -> None:
        expected = _in_time_order(punches)
        with transaction.atomic():
            world = _world()
            shuffled = data.draw(st.permutations(punches)) if punches else []
            cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(shuffled) - 1)),
                                            max_size=5))) if len(shuffled) > 1 else []
            batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)],
                                                     strict=True)]
            for batch in filter(None, batches):
                clock = world["clocks"][data.draw(st.integers(0, 2))]
                seqs = _send(clock, world["cards"], batch)
                if data.draw(st.booleans()):  # the clock did not hear the answer: again
                    _send(clock, world["cards"], batch, seqs)
                    event("a batch sent twice")
                if data.draw(st.booleans()):
                    task_runs()
            task_runs()
            services.days_due_mark(day=FIRST + dt.timedelta(days=DAYS))
            task_runs()
            assert _results() == expected
            event(f"{len(batches)} batches")
            transaction.set_rollback(True)

    same()
