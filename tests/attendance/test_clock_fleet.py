"""Attendance clocks in the simulated fleet, against the real server (a live HTTP server
on the test database): two clocks live through ten days of a small roster's shifts (a
day shift and a night shift across midnight), one of them offline for hours of those
days now and then, so its punches arrive after the other clock's later ones; HR records
leave and approves forgotten punches. Once everything is uploaded and the recompute
task has run, every daily result is the one the fleet expects from what it punched."""

from __future__ import annotations

import datetime as dt

import pytest

from attendance.models import DayResult
from attendance.rules import Shift as RuleShift
from attendance.rules import day_result
from attendance.simulation import hr_office
from terminals.fleet.attendance import Expected, results_check, timetable
from terminals.fleet.plan import AttendancePlan, ShiftSpec, StaffSpec
from terminals.models import Terminal, TerminalRecord
from terminals.simulator import SimulationOptions, run_simulation


@pytest.mark.django_db(transaction=True)
def test_clocks_offline_for_hours_still_give_every_result_hr_expects(live_server, purse_key):
    lines: list[str] = []
    options = SimulationOptions(
        server=live_server.url, pos=0, kiosks=1, cards=14, attendance_clocks=2,
        attendance_staff=12, attendance_days=10, seconds=8, offline_rate=0.0,
        duplicate_rate=0.2, batch=20, seed=5, lost_cards=1, sync_every=0.25,
        progress_every=2, log=lines.append,
    )

    summary = run_simulation(options, attendance_setup=hr_office)

    text = summary.as_text()
    assert summary.ok, text
    assert summary.attendance_mismatches == [], text
    assert summary.attendance_days == 12 * 10
    assert summary.attendance_outages >= 1 and summary.attendance_offline_hours >= 2, text
    assert "every one as expected" in text
    # Every punch reached the server once, though some batches were sent twice.
    clocks = Terminal.objects.filter(kind="attendance")
    assert clocks.count() == 2
    punches = TerminalRecord.objects.filter(terminal__in=clocks)
    assert punches.filter(status="accepted").count() == summary.attendance_punches
    # One result per rostered day, of every kind the fleet planned.
    rows = DayResult.objects.filter(cardholder__number__startswith="SIM")
    assert rows.count() == 120
    statuses = set(rows.values_list("status", flat=True))
    assert {"normal", "late", "early_leave", "missing_punch", "absent", "on_leave",
            "off"} <= statuses, statuses
    assert rows.filter(overtime_minutes__gt=0).exists()
    assert any("HR:" in line for line in lines)


def test_a_result_the_server_got_wrong_is_named():
    day = dt.date(2026, 11, 2)
    want = {("S1", day): Expected("late", 100, 200, late_minutes=7)}
    same = {("S1", day): Expected("late", 100, 200, late_minutes=7).as_dict()}
    assert results_check(want, same) == []
    wrong = {("S1", day): {**same[("S1", day)], "late_minutes": 6}}
    assert results_check(want, wrong) == [
        "attendance S1 2026-11-02: late_minutes expected 7 server 6"]
    assert results_check(want, {}) == [
        "attendance S1 2026-11-02: no result on the server, expected late"]
    extra = {**same, ("S2", day): same[("S1", day)]}
    assert results_check(want, extra) == [
        "attendance S2 2026-11-02: a result the roster does not explain"]


@pytest.mark.parametrize("seed", range(6))
def test_the_fleets_expectation_agrees_with_the_rules_on_its_own_days(seed):
    """The fleet works its expectation out from what it chose; the server's pure rules,
    given the same punches, come to the same day (a second reading of the contract)."""
    import random
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Shanghai")
    shifts = [ShiftSpec("D", 9 * 60, 18 * 60, 5, 60, 30),
              ShiftSpec("N", 22 * 60, 6 * 60, 10, 30, 60)]
    plan = AttendancePlan(shifts=shifts, staff=[StaffSpec("S1", "111", "D"),
                                                StaffSpec("S2", "222", "N")],
                          first=dt.date(2026, 10, 5), last=dt.date(2026, 10, 30))
    table = timetable(plan, "Asia/Shanghai", 2, random.Random(seed))
    rule_shifts = {s.code: RuleShift(code=s.code, start=dt.time(s.start // 60, s.start % 60),
                                     end=dt.time(s.end // 60, s.end % 60),
                                     grace_minutes=s.grace, break_minutes=s.break_minutes,
                                     overtime_after_minutes=s.overtime_after)
                   for s in shifts}
    from attendance.rules import Day, assign

    for member in plan.staff:
        days = [Day(date=d, shift=rule_shifts[member.shift] if d.isoweekday() <= 5 else None)
                for d in (plan.first + dt.timedelta(days=k)
                          for k in range((plan.last - plan.first).days + 1))]
        corrections = [ts for n, ts in table.corrections if n == member.number]
        moments = [dt.datetime.fromtimestamp(ts, zone) for ts in
                   [p.ts for p in table.punches if p.card_no == member.card_no] + corrections]
        assigned = assign(days, moments, zone)
        for day in days:
            want = table.expected[(member.number, day.date)]
            if want.status == "on_leave":
                continue  # leave is the server's to apply: checked end to end above
            got = day_result(day, assigned[day.date], zone)
            assert {"status": str(got.status),
                    "first_in": int(got.first_in.timestamp()) if got.first_in else None,
                    "last_out": int(got.last_out.timestamp()) if got.last_out else None,
                    "late_minutes": got.late_minutes, "early_minutes": got.early_minutes,
                    "worked_minutes": got.worked_minutes,
                    "overtime_minutes": got.overtime_minutes} == want.as_dict(), \
                (member.number, day.date)
