"""HR in a simulated run (`terminals.simulator`, the `simulate` command, `load_demo`):
the shifts and the roster the run's attendance clocks punch for, made through
attendance's services; during the run, the leave and the corrections the fleet asks
for; at the end, the daily results once the recompute task has run. `terminals` sits
below `attendance` and cannot call these itself: the commands hand `hr_office` to
`run_simulation` as its `AttendanceSetup`.

Half the staff work a day shift (09:00-18:00, 5 minutes' grace, an hour's break,
overtime from 30 minutes past the end), the other half a night shift across midnight
(22:00-06:00, 10 minutes' grace, half an hour's break, overtime from an hour), Monday
to Friday; weekends are rest days, and so are the holidays of the shared calendar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.selectors import cardholder_numbers_of_cards
from attendance import compute, services
from attendance.selectors import result_list
from core.calendar import holidays_between
from core.roles import Role
from terminals.fleet.plan import AttendancePlan, ShiftSpec, StaffSpec
from terminals.simulator import HrSetup

CHANNEL = "simulator"
WORK_WEEKDAYS = (1, 2, 3, 4, 5)


def _hr_user() -> object:
    user, _made = get_user_model().objects.get_or_create(
        username="simulator-hr", defaults={"is_staff": True})
    user.groups.add(Group.objects.get_or_create(name=Role.HR)[0])
    return user


def _time(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60)


def _ts(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class SimulatedHrOffice:
    def __init__(self, plan: AttendancePlan) -> None:
        self.plan = plan
        self.by = _hr_user()

    def leave(self, number: str, start: int, end: int) -> None:
        services.leave_create(cardholder=number, start=_ts(start), end=_ts(end), kind="annual",
                              note="simulated", by=self.by, channel=CHANNEL)

    def correction(self, number: str, ts: int) -> None:
        correction = services.correction_add(cardholder=number, ts=_ts(ts),
                                             reason="forgot to punch (simulated)", by=self.by,
                                             channel=CHANNEL)
        services.correction_decide(correction=correction, approve=True, by=self.by,
                                   channel=CHANNEL)

    def tick(self) -> int:
        """The task's turn (`attendance.tasks.pending_days_compute`), taken here as the
        worker would: a run needs no qcluster beside the server."""
        return compute.pending_days_compute()

    def results(self, numbers: Sequence[str], first: dt.date,
                last: dt.date) -> dict[tuple[str, dt.date], dict[str, int | str | None]]:
        """The results once the task has computed every marked day (as the worker does
        after the uploads are answered; a run of it with nothing marked changes nothing)."""
        compute.pending_days_compute()
        wanted = set(numbers)
        out: dict[tuple[str, dt.date], dict[str, int | str | None]] = {}
        for row in result_list(first=first, last=last):
            number = row.cardholder.number
            if number not in wanted:
                continue
            out[(number, row.date)] = {
                "status": row.status,
                "first_in": int(row.first_in.timestamp()) if row.first_in else None,
                "last_out": int(row.last_out.timestamp()) if row.last_out else None,
                "late_minutes": row.late_minutes, "early_minutes": row.early_minutes,
                "worked_minutes": row.worked_minutes, "overtime_minutes": row.overtime_minutes,
            }
        return out


def hr_office(setup: HrSetup) -> SimulatedHrOffice:
    """Shifts and the roster (see the module's docstring); the office of the run."""
    shifts = [
        ShiftSpec(f"S{setup.tag}-DAY", 9 * 60, 18 * 60, grace=5, break_minutes=60,
                  overtime_after=30),
        ShiftSpec(f"S{setup.tag}-NIGHT", 22 * 60, 6 * 60, grace=10, break_minutes=30,
                  overtime_after=60),
    ]
    by = _hr_user()
    for s in shifts:
        services.shift_create(code=s.code, name=f"Simulated {s.code}", start=_time(s.start),
                              end=_time(s.end), grace_minutes=s.grace,
                              break_minutes=s.break_minutes,
                              overtime_after_minutes=s.overtime_after, by=by, channel=CHANNEL)
    numbers = cardholder_numbers_of_cards(setup.card_nos)
    staff = [StaffSpec(numbers[c], c, shifts[i % 2].code) for i, c in enumerate(setup.card_nos)]
    entries = []
    for member in staff:
        entries.append({"cardholder": member.number, "from": setup.first, "to": setup.last,
                        "weekdays": list(WORK_WEEKDAYS), "shift": member.shift})
        entries.append({"cardholder": member.number, "from": setup.first, "to": setup.last,
                        "weekdays": [6, 7], "shift": None})
    services.roster_put(entries=entries, by=by, channel=CHANNEL)
    return SimulatedHrOffice(AttendancePlan(
        shifts=shifts, staff=staff, first=setup.first, last=setup.last,
        work_weekdays=WORK_WEEKDAYS,
        holidays=frozenset(holidays_between(setup.first, setup.last))))
