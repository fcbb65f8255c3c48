"""Whatever the security office and the card office do, the list a controller holds and
the online check never disagree.

A random sequence of changes (schedules with windows across midnight and holiday rules,
groups and their doors, members by name and by org unit, holidays, card losses,
unlocks, freezes, replacements, holders suspended, visitor grants and their
revocation, unlocked hours, lockdowns locked or open with an excepted group) is made
through the services, and the controller polls `access-list` at random moments (full or
delta, from the version it holds). At the end it polls once more, and for random
moments of the week, every card (replaced ones too) and every door, a small reference
evaluator written here, reading only what the controller holds (the access list and the
blacklist, as a controller holds them), must give the same (granted, reason) as
`access-check` decides from the database.

Left out: the decisions that depend on earlier passages (anti-passback, first-card
unlock: no door records are uploaded here, so both sides see none) and unknown cards (a
controller cannot tell an unknown card from one without a grant).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from access import selectors, services
from access.decide import decide
from access.models import VisitorGrant
from accounts import services as accounts
from accounts.models import CARD_TRANSITIONS, Card, CardStatus
from accounts.selectors import blacklist_full
from tests.access.scenario import controller, local_ts, window
from tests.factories import StaffFactory, make_card, make_cardholder

pytestmark = pytest.mark.django_db

DOORS = 3
HOLDERS = 4
WEEK_START = "2030-01-06 00:00"  # a Sunday
WEEK_SECONDS = 8 * 86_400

# --- The reference evaluator: what a controller decides from what it holds ---------------


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def window_open(w: dict[str, Any], local: dt.datetime, holidays: set[str]) -> bool:
    if local.date().isoformat() in holidays and w.get("holidays") != "open":
        return False
    start, end, minute, day = _minutes(w["from"]), _minutes(w["to"]), \
        local.hour * 60 + local.minute, local.isoweekday()
    if end > start:
        return day in w["days"] and start <= minute < end
    yesterday = 7 if day == 1 else day - 1
    return (day in w["days"] and minute >= start) or (yesterday in w["days"] and minute < end)


def in_period(item: dict[str, Any], start: str, end: str, ts: int) -> bool:
    return (item.get(start) is None or item[start] <= ts) and (
        item.get(end) is None or ts < item[end])


@dataclass
class Held:
    """What a controller holds, replayed from the lists it fetched."""

    version: int = 0
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    doors: dict[int, dict[str, Any]] = field(default_factory=dict)
    holidays: set[str] = field(default_factory=set)

    def apply(self, answer: dict[str, Any]) -> None:
        if answer["full"]:
            self.grants, self.schedules, self.doors = {}, {}, {}
            self.holidays = set()
        self.version = answer["version"]
        self.schedules.update(answer["schedules"])
        for grant in answer["grants"]:
            self.grants[grant["card_no"]] = grant
        for card_no in answer["revoke"]:
            self.grants.pop(card_no, None)
        if "doors" in answer:
            self.doors = {d["door"]: d for d in answer["doors"]}
        if "holidays" in answer:
            self.holidays = set(answer["holidays"])

    def decide(self, card_no: str, door: int, ts: int, blacklist: set[str],
               ) -> tuple[bool, str | None]:
        local = dt.datetime.fromtimestamp(ts, ZoneInfo(django_settings.TIME_ZONE))
        if card_no in blacklist:
            return False, "blacklisted"
        block = self.doors.get(door, {"mode": "normal", "except": [], "unlock_schedule": None,
                                      "first_card": None})
        if block["mode"] == "locked":
            return (True, None) if card_no in block["except"] else (False, "lockdown")
        if block["mode"] == "open":
            return True, None
        unlock = block["unlock_schedule"]
        if unlock and block["first_card"] is None and any(
                window_open(w, local, self.holidays) for w in self.schedules[unlock]):
            return True, None
        grant = self.grants.get(card_no)
        if grant is None or door not in grant["doors"] or not in_period(grant, "from", "to", ts):
            return False, "not_allowed"
        windows = [w for w in self.schedules[grant["schedule"]]
                   if door in w.get("doors", [door]) and in_period(w, "valid_from", "valid_to",
                                                                    ts)]
        if not windows:
            return False, "not_allowed"
        if not any(window_open(w, local, self.holidays) for w in windows):
            return False, "schedule"
        return True, None


# --- Random changes ------------------------------------------------------------------------

CLOCK = st.sampled_from(["00:00", "06:00", "07:30", "12:00", "19:00", "22:00"])
WINDOW = st.tuples(st.sets(st.integers(1, 7), min_size=1, max_size=3), CLOCK, CLOCK)
DOOR_SET = st.sets(st.integers(1, DOORS), max_size=DOORS)
OPS = st.one_of(
    st.tuples(st.just("schedule"), st.lists(WINDOW, min_size=1, max_size=3),
              st.sampled_from(["open", "closed"])),
    st.tuples(st.just("group"), st.integers(0, 5), DOOR_SET),
    st.tuples(st.just("group_update"), st.integers(0, 5), st.integers(0, 5), DOOR_SET),
    st.tuples(st.just("member"), st.integers(0, 5), st.integers(0, HOLDERS - 1), st.booleans()),
    st.tuples(st.just("org_unit"), st.integers(0, 5), st.sampled_from(["PA", "PB"]),
              st.booleans()),
    st.tuples(st.just("holiday"), st.integers(0, 7)),
    st.tuples(st.just("card"), st.integers(0, HOLDERS - 1),
              st.sampled_from(["report_loss", "unlock", "freeze", "unfreeze", "replace"])),
    st.tuples(st.just("holder"), st.integers(0, HOLDERS - 1),
              st.sampled_from(["active", "suspended"])),
    st.tuples(st.just("visitor"), st.integers(0, HOLDERS - 1), DOOR_SET, st.integers(0, 180),
              st.integers(1, 72)),
    st.tuples(st.just("visitor_revoke"), st.integers(0, 5)),
    st.tuples(st.just("unlock_hours"), st.integers(1, DOORS), st.integers(-1, 5)),
    st.tuples(st.just("lockdown"), st.sampled_from(["locked", "open"]), st.integers(-1, 5)),
    st.tuples(st.just("lockdown_end"),),
    st.tuples(st.just("poll"), st.booleans()),
)

# A world to start from: schedules, groups of them, members; then the random changes.
START = st.tuples(
    st.lists(st.tuples(st.just("schedule"), st.lists(WINDOW, min_size=1, max_size=3),
                       st.sampled_from(["open", "closed"])), min_size=1, max_size=3),
    st.lists(st.tuples(st.just("group"), st.integers(0, 5), DOOR_SET.filter(bool)),
             min_size=1, max_size=3),
    st.lists(st.tuples(st.just("member"), st.integers(0, 5), st.integers(0, HOLDERS - 1),
                       st.just(True)), min_size=2, max_size=8),
).map(lambda parts: [op for part in parts for op in part])


class World:
    def __init__(self) -> None:
        self.by = StaffFactory(username="security-prop", role="security")
        self.clerk = StaffFactory(username="clerk-prop", role="card_office")
        self.ctrl = controller(doors=DOORS)
        self.door_ids = [f"{self.ctrl.terminal_id}-{n}" for n in range(1, DOORS + 1)]
        self.holders = [make_cardholder(by=self.clerk, department="PA" if i < 2 else "PB")
                        for i in range(HOLDERS)]
        self.cards = [make_card(by=self.clerk, cardholder=h) for h in self.holders]
        self.schedules: list[str] = []
        self.groups: list[Any] = []
        self.visitors: list[VisitorGrant] = []
        self.lockdown: Any = None
        services.area_create(code=f"area-{self.ctrl.pk}", name="Wing", by=self.by)
        for door_id in self.door_ids[:2]:
            services.door_update(door=selectors.door_get(door_id), area=f"area-{self.ctrl.pk}",
                                 by=self.by)
        self.held = Held()

    def pick(self, items: list[Any], index: int) -> Any:
        return items[index % len(items)] if items else None

    def play(self, op: tuple[Any, ...]) -> None:
        getattr(self, f"op_{op[0]}")(*op[1:])

    def op_schedule(self, windows: list[tuple[set[int], str, str]], holidays: str) -> None:
        code = f"s{len(self.schedules)}"
        services.schedule_create(code=code, name=code, holidays=holidays, by=self.by,
                                 windows=[window(sorted(d), a, b) for d, a, b in windows])
        self.schedules.append(code)

    def op_group(self, schedule: int, doors: set[int]) -> None:
        code = self.pick(self.schedules, schedule)
        if code is None:
            return
        self.groups.append(services.group_create(
            code=f"g{len(self.groups)}", name="g", schedule=code,
            doors=[self.door_ids[n - 1] for n in sorted(doors)], by=self.by))

    def op_group_update(self, group: int, schedule: int, doors: set[int]) -> None:
        found = self.pick(self.groups, group)
        if found is not None:
            services.group_update(group=found, schedule=self.pick(self.schedules, schedule),
                                  doors=[self.door_ids[n - 1] for n in sorted(doors)], by=self.by)

    def op_member(self, group: int, holder: int, add: bool) -> None:
        found = self.pick(self.groups, group)
        if found is not None:
            number = [self.holders[holder].number]
            services.group_members_change(group=found, add=number if add else [],
                                          remove=[] if add else number, by=self.by)

    def op_org_unit(self, group: int, unit: str, add: bool) -> None:
        found = self.pick(self.groups, group)
        if found is not None:
            services.group_org_units_change(group=found, add=[unit] if add else [],
                                            remove=[] if add else [unit], by=self.by)

    def op_holiday(self, day: int) -> None:
        date = dt.date(2030, 1, 6) + dt.timedelta(days=day)
        if not selectors.holiday_list().filter(date=date).exists():
            services.holiday_create(date=date, name="h", by=self.by)

    def op_card(self, holder: int, action: str) -> None:
        card = Card.objects.get(cardholder=self.holders[holder],
                                status__in=[CardStatus.ACTIVE, CardStatus.LOST,
                                            CardStatus.FROZEN])
        wanted = {"report_loss": CardStatus.LOST, "unlock": CardStatus.ACTIVE,
                  "freeze": CardStatus.FROZEN, "unfreeze": CardStatus.ACTIVE,
                  "replace": CardStatus.REPLACED}[action]
        if CARD_TRANSITIONS.get((card.status, wanted)) != action:
            return
        if action == "replace":
            self.cards.append(accounts.card_replace(card=card, uid=f"{len(self.cards):08x}",
                                                    by=self.clerk))
        elif action in ("freeze", "unfreeze"):
            getattr(accounts, f"card_{action}")(card=card, by=self.clerk, reason="r")
        else:
            getattr(accounts, f"card_{action}")(card=card, by=self.clerk)

    def op_holder(self, holder: int, status: str) -> None:
        accounts.cardholder_update(cardholder=self.holders[holder], status=status, by=self.clerk)

    def op_visitor(self, holder: int, doors: set[int], start_h: int, hours: int) -> None:
        if not doors:
            return
        start = dt.datetime.fromtimestamp(local_ts(WEEK_START) + start_h * 3600, dt.UTC)
        self.visitors.append(services.visitor_grant_create(
            cardholder=self.holders[holder].number,
            doors=[self.door_ids[n - 1] for n in sorted(doors)], valid_from=start,
            valid_to=start + dt.timedelta(hours=hours), by=self.by))

    def op_visitor_revoke(self, index: int) -> None:
        grant = self.pick(self.visitors, index)
        if grant is not None and VisitorGrant.objects.get(pk=grant.pk).revoked_at is None:
            services.visitor_grant_revoke(grant=grant, by=self.by)

    def op_unlock_hours(self, door: int, schedule: int) -> None:
        code = self.pick(self.schedules, schedule) if schedule >= 0 else None
        services.door_update(door=selectors.door_get(self.door_ids[door - 1]),
                             unlock_schedule=code, by=self.by)

    def op_lockdown(self, mode: str, group: int) -> None:
        if self.lockdown is not None:
            return
        except_group = self.pick(self.groups, group) if mode == "locked" and group >= 0 else None
        self.lockdown = services.lockdown_start(
            area=f"area-{self.ctrl.pk}", mode=mode, by=self.by,
            except_group=except_group.code if except_group else None)

    def op_lockdown_end(self) -> None:
        if self.lockdown is not None:
            services.lockdown_end(lockdown=self.lockdown, by=self.by)
            self.lockdown = None

    def op_poll(self, from_scratch: bool) -> None:
        self.held.apply(selectors.access_list(self.ctrl, 0 if from_scratch else
                                              self.held.version))


def test_the_list_a_controller_holds_and_access_check_never_disagree(on_postgres: None) -> None:
    @settings(max_examples=25, deadline=None, derandomize=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(start=START, ops=st.lists(OPS, max_size=14),
           moments=st.lists(st.integers(0, WEEK_SECONDS - 1), min_size=3, max_size=6))
    def agree(start: list[tuple[Any, ...]], ops: list[tuple[Any, ...]],
              moments: list[int]) -> None:
        with transaction.atomic():
            world = World()
            for op in [*start, *ops]:
                world.play(op)
            world.op_poll(False)
            blacklist = set(blacklist_full().add)
            for offset in moments:
                ts = local_ts(WEEK_START) + offset
                for card in world.cards:
                    for door in range(1, DOORS + 1):
                        online = selectors.access_check(world.ctrl, card.card_no, door, ts)
                        offline = world.held.decide(card.card_no, door, ts, blacklist)
                        ruled = decide(*selectors.access_snapshot(world.ctrl, card.card_no,
                                                                  door, ts))
                        assert (online.granted, online.reason) == offline, (
                            card.card_no, door, ts, ops)
                        assert (ruled.granted, ruled.reason) == offline, (
                            "rules", card.card_no, door, ts, ops)
                        event(f"reason {online.reason}")
            event("combined schedule" if any(g["schedule"].startswith("combo-")
                                              for g in world.held.grants.values())
                  else "named schedules only")
            assert world.held.version == selectors.list_version(world.ctrl)
            transaction.set_rollback(True)

    agree()
