"""The security office of a simulated run (`terminals.simulator`, the `simulate` command,
`load_demo`): doors, areas, schedules, groups, members and a visitor for the run's door
controllers, made through access's services; then, during the run, changes of who may
enter. `terminals` sits below `access` and cannot call these itself: the commands hand
`security_office` to `run_simulation` as its `AccessSetup`.

For each controller: its doors 1 (entry) and 2 (exit) form an area with anti-passback
(hard on even controllers, soft on odd ones); door 3 stands unlocked all day once a
supervisor has badged in (first-card unlock). Four groups span every controller:

- staff: doors 1 and 2 at any hour (about half the holders);
- night: doors 1 to 3, 22:00-06:00 every day, a window across midnight (a fifth of the
  holders, some of them staff too, whose grant is then one combined schedule);
- shut: door 3, in a window four to six hours from now (closed for any run shorter);
- supervisors: door 3 at any hour, and door 3's first-card group.

One holder gets a visitor grant for door 1 of every controller, ending halfway through
the run; the rest have no grant. `change()` adds a holder to the staff group or takes
one out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from access import selectors, services
from access.models import AccessGroup
from access.services import WindowSpec
from accounts.selectors import cardholder_numbers_of_cards
from terminals.simulator import SecuritySetup

CHANNEL = "simulator"
WHOLE_DAY = (dt.time(0, 0), dt.time(0, 0))
NIGHT = (dt.time(22, 0), dt.time(6, 0))
EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]


class SimulatedSecurityOffice:
    def __init__(self, setup: SecuritySetup, staff: AccessGroup, holders: list[str]) -> None:
        self.by, self.rng = setup.by, setup.rng
        self.staff = staff
        self.holders = holders

    def change(self) -> str | None:
        """A holder joins the staff group, or leaves it."""
        number = self.rng.choice(self.holders)
        members = set(selectors.group_member_numbers(self.staff))
        leaving = number in members
        services.group_members_change(group=self.staff, add=[] if leaving else [number],
                                      remove=[number] if leaving else [], by=self.by,
                                      channel=CHANNEL)
        return f"{number} {'leaves' if leaving else 'joins'} {self.staff.code}"


def _schedule(setup: SecuritySetup, name: str, windows: list[WindowSpec]) -> str:
    code = f"S{setup.tag}-{name}"
    services.schedule_create(code=code, name=f"Simulated {name.lower()}", windows=windows,
                             by=setup.by, channel=CHANNEL)
    return code


def _group(setup: SecuritySetup, name: str, schedule: str, doors: list[str],
           members: list[str]) -> AccessGroup:
    group = services.group_create(code=f"S{setup.tag}-{name}", name=f"Simulated {name.lower()}",
                                  schedule=schedule, doors=doors, by=setup.by, channel=CHANNEL)
    if members:
        services.group_members_change(group=group, add=members, by=setup.by, channel=CHANNEL)
    return group


def security_office(setup: SecuritySetup) -> SimulatedSecurityOffice:
    """Set the run's doors up (see the module's docstring) and return the office that
    changes them during the run."""
    numbers = cardholder_numbers_of_cards(setup.card_nos)
    holders = [numbers[c] for c in setup.card_nos]
    setup.rng.shuffle(holders)
    n = len(holders)
    now = timezone.localtime()
    later = now + dt.timedelta(hours=4)
    always = _schedule(setup, "ALWAYS", [WindowSpec(EVERY_DAY, *WHOLE_DAY)])
    night = _schedule(setup, "NIGHT", [WindowSpec(EVERY_DAY, *NIGHT)])
    shut = _schedule(setup, "SHUT", [WindowSpec(
        [later.isoweekday()], later.time().replace(second=0, microsecond=0),
        (later + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0))])

    doors: dict[int, list[str]] = {1: [], 2: [], 3: []}
    counts = {}
    for tid in setup.controllers:
        count = selectors.door_list(controller=tid).count()
        counts[tid] = count
        for number in doors:
            if number <= count:
                doors[number].append(f"{tid}-{number}")

    supervisors_at = int(0.75 * n)
    supervisors = holders[supervisors_at:supervisors_at + max(1, n // 25)]
    staff = _group(setup, "STAFF", always, doors[1] + doors[2], holders[:int(0.55 * n)])
    _group(setup, "NIGHT", night, doors[1] + doors[2] + doors[3],
           holders[int(0.45 * n):int(0.65 * n)])
    _group(setup, "SHUT", shut, doors[3], holders[int(0.65 * n):int(0.75 * n)])
    super_group = _group(setup, "SUPER", always, doors[3], supervisors)

    for i, tid in enumerate(setup.controllers):
        area = f"S{setup.tag}-{i}"
        services.area_create(code=area, name=f"Simulated area {i}",
                             antipassback="hard" if i % 2 == 0 else "soft", by=setup.by,
                             channel=CHANNEL)
        settings: list[dict[str, Any]] = [
            {"area": area, "direction": "entry"}, {"area": area, "direction": "exit"},
            {"unlock_schedule": always, "first_card_group": super_group.code}]
        for number, changes in enumerate(settings[:counts[tid]], start=1):
            services.door_update(door=selectors.door_get(f"{tid}-{number}"), by=setup.by,
                                 channel=CHANNEL, **changes)

    visitor_at = supervisors_at + len(supervisors)
    if visitor_at < n and doors[1]:
        services.visitor_grant_create(
            cardholder=holders[visitor_at], doors=doors[1],
            valid_from=now - dt.timedelta(minutes=1),
            valid_to=now + dt.timedelta(seconds=max(1.0, setup.seconds / 2)), by=setup.by,
            note="simulated visitor", channel=CHANNEL)
    return SimulatedSecurityOffice(setup, staff, holders)
