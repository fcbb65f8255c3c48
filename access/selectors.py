"""Reads of access control: doors, groups and who is in them, the rules a holder's
groups and visitor grants give on each controller, the snapshot `access.decide` judges,
and the access lists controllers fetch (full and delta)."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Exists, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from access.decide import (
    ALWAYS,
    CardState,
    Combiner,
    Decision,
    DoorState,
    Moment,
    PublishedGrant,
    Rule,
    Situation,
    Window,
    decide,
    publish,
    window_from_json,
    window_json,
)
from access.models import (
    AccessEvent,
    AccessGroup,
    AccessGroupMember,
    AccessGroupOrgUnit,
    AccessListChange,
    AntipassbackMode,
    Area,
    ChangeKind,
    CombinedSchedule,
    ControllerGrant,
    ControllerListVersion,
    Door,
    HolidayPolicy,
    Lockdown,
    Schedule,
    ScheduleWindow,
    VisitorGrant,
)
from accounts.selectors import (
    card_by_number_query,
    card_usable,
    cardholder_ids_in_org_units,
    cardholder_org_units,
    cards_usable,
    org_unit_chain,
    org_unit_parents,
)
from core.errors import NotFound
from core.models import Holiday
from terminals.models import Terminal

# --- Look-ups -----------------------------------------------------------------------------


def door_get(door_id: str) -> Door:
    door = (Door.objects.select_related("controller", "area", "unlock_schedule",
                                        "first_card_group").filter(id=door_id).first())
    if door is None:
        raise NotFound(_("No door %(d)s.") % {"d": door_id})
    return door


def door_list(*, controller: str | None = None, area: str | None = None) -> QuerySet[Door]:
    qs = Door.objects.select_related("controller", "area", "unlock_schedule", "first_card_group")
    if controller:
        qs = qs.filter(controller__terminal_id=controller)
    if area:
        qs = qs.filter(area__code=area)
    return qs.order_by("controller__terminal_id", "number")


def area_get(code: str) -> Area:
    area = Area.objects.filter(code=code).first()
    if area is None:
        raise NotFound(_("No area %(c)s.") % {"c": code})
    return area


def area_list() -> QuerySet[Area]:
    return Area.objects.order_by("code")


def schedule_get(code: str) -> Schedule:
    schedule = Schedule.objects.prefetch_related("windows").filter(code=code).first()
    if schedule is None:
        raise NotFound(_("No schedule %(c)s.") % {"c": code})
    return schedule


def schedule_list() -> QuerySet[Schedule]:
    return Schedule.objects.prefetch_related("windows").order_by("code")


def holiday_list(*, since: dt.date | None = None) -> QuerySet[Holiday]:
    qs = Holiday.objects.order_by("date")
    return qs.filter(date__gte=since) if since else qs


def group_get(code: str) -> AccessGroup:
    group = (AccessGroup.objects.select_related("schedule").prefetch_related("doors")
             .filter(code=code).first())
    if group is None:
        raise NotFound(_("No access group %(c)s.") % {"c": code})
    return group


def group_list() -> QuerySet[AccessGroup]:
    return (AccessGroup.objects.select_related("schedule").prefetch_related("doors", "org_units")
            .order_by("code"))


def group_member_numbers(group: AccessGroup) -> list[str]:
    return list(AccessGroupMember.objects.filter(group=group)
                .order_by("cardholder__number").values_list("cardholder__number", flat=True))


def visitor_grant_get(grant_id: int) -> VisitorGrant:
    grant = (VisitorGrant.objects.select_related("cardholder").prefetch_related("doors")
             .filter(id=grant_id).first())
    if grant is None:
        raise NotFound(_("No visitor grant %(n)s.") % {"n": grant_id})
    return grant


def lockdown_get(lockdown_id: int) -> Lockdown:
    lockdown = Lockdown.objects.select_related("area", "except_group").filter(
        id=lockdown_id).first()
    if lockdown is None:
        raise NotFound(_("No lockdown %(n)s.") % {"n": lockdown_id})
    return lockdown


def lockdowns_in_force() -> QuerySet[Lockdown]:
    return Lockdown.objects.select_related("area", "except_group").filter(ended_at__isnull=True)


# --- Who is in a group ----------------------------------------------------------------------


def _unit_ancestry() -> dict[int, list[int]]:
    """Each org unit's id with the ids of the units above it (a small table)."""
    parents = org_unit_parents()
    return {unit: org_unit_chain(unit, parents) for unit in parents}


def _units_below(unit_ids: Collection[int]) -> set[int]:
    """The units and every unit under them."""
    below = set()
    for unit, chain in _unit_ancestry().items():
        if set(chain) & set(unit_ids):
            below.add(unit)
    return below


def holders_of_groups(group_ids: Collection[int]) -> set[int]:
    """Cardholder ids that are members of any of the groups, by name or by org unit."""
    if not group_ids:
        return set()
    holders = set(AccessGroupMember.objects.filter(group_id__in=group_ids)
                  .values_list("cardholder_id", flat=True))
    units = set(AccessGroupOrgUnit.objects.filter(group_id__in=group_ids)
                .values_list("org_unit_id", flat=True))
    if units:
        holders |= cardholder_ids_in_org_units(_units_below(units))
    return holders


def holders_of_org_units(unit_ids: Collection[int]) -> set[int]:
    if not unit_ids:
        return set()
    return cardholder_ids_in_org_units(_units_below(unit_ids))


def groups_of_holders(holder_ids: Collection[int]) -> dict[int, set[int]]:
    """Each holder's access groups (by name, and by their org unit or one above it)."""
    groups: dict[int, set[int]] = defaultdict(set)
    for holder, group in AccessGroupMember.objects.filter(
            cardholder_id__in=holder_ids).values_list("cardholder_id", "group_id"):
        groups[holder].add(group)
    by_unit: dict[int, set[int]] = defaultdict(set)
    for group, unit in AccessGroupOrgUnit.objects.values_list("group_id", "org_unit_id"):
        by_unit[unit].add(group)
    if by_unit:
        chains = _unit_ancestry()
        for holder, unit in cardholder_org_units(holder_ids).items():
            for above in chains.get(unit, [unit]):
                groups[holder] |= by_unit.get(above, set())
    return groups


def usable_cards(holder_ids: Collection[int]) -> dict[int, str]:
    """The card each holder may badge with: their active, unlisted card, while the holder
    is active."""
    return cards_usable(holder_ids)


def cards_of_groups(group_ids: Collection[int]) -> frozenset[str]:
    return frozenset(usable_cards(holders_of_groups(group_ids)).values())


# --- Rules: what a holder's groups and visitor grants give ---------------------------------


def schedule_windows(schedule_ids: Collection[int]) -> dict[int, tuple[Window, ...]]:
    open_on_holidays = set(Schedule.objects.filter(
        id__in=schedule_ids, holidays=HolidayPolicy.OPEN).values_list("id", flat=True))
    windows: dict[int, list[Window]] = defaultdict(list)
    for row in ScheduleWindow.objects.filter(schedule_id__in=schedule_ids).order_by("id"):
        windows[row.schedule_id].append(_window(row, row.schedule_id in open_on_holidays))
    return {sid: tuple(sorted(ws, key=_window_order)) for sid, ws in windows.items()}


def _window(row: ScheduleWindow, holidays_open: bool) -> Window:
    return Window(days=frozenset(row.weekdays), start=row.start.hour * 60 + row.start.minute,
                  end=row.end.hour * 60 + row.end.minute, holidays_open=holidays_open)


def _window_order(w: Window) -> tuple[Any, ...]:
    return (sorted(w.days), w.start, w.end)


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def holder_rules(holder_ids: Collection[int], *, controller_id: int | None = None,
                 ) -> dict[int, dict[int, list[Rule]]]:
    """{holder: {controller: [Rule]}} from the holders' groups and their visitor grants
    not revoked (a grant past its end still counts until the lapse job revokes it: the
    period decides it meanwhile, on the list as here)."""
    groups = groups_of_holders(holder_ids)
    group_ids = set().union(*groups.values()) if groups else set()
    doors_qs = AccessGroup.doors.through.objects.filter(accessgroup_id__in=group_ids)
    if controller_id is not None:
        doors_qs = doors_qs.filter(door__controller_id=controller_id)
    group_doors: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    for group, controller, number in doors_qs.values_list(
            "accessgroup_id", "door__controller_id", "door__number"):
        group_doors[group][controller].add(number)
    schedule_of = dict(AccessGroup.objects.filter(id__in=group_doors)
                       .values_list("id", "schedule_id"))
    code_of = dict(Schedule.objects.filter(id__in=set(schedule_of.values()))
                   .values_list("id", "code"))
    windows = schedule_windows(set(schedule_of.values()))
    rules: dict[int, dict[int, list[Rule]]] = defaultdict(lambda: defaultdict(list))
    for holder, mine in groups.items():
        for group in mine:
            for controller, numbers in group_doors.get(group, {}).items():
                sid = schedule_of[group]
                rules[holder][controller].append(Rule(
                    doors=frozenset(numbers), windows=windows.get(sid, ()),
                    schedule=code_of[sid]))
    visits = VisitorGrant.doors.through.objects.filter(
        visitorgrant__cardholder_id__in=holder_ids, visitorgrant__revoked_at__isnull=True)
    if controller_id is not None:
        visits = visits.filter(door__controller_id=controller_id)
    by_grant: dict[tuple[int, int, int, int], set[int]] = defaultdict(set)
    for holder, start, end, controller, number in visits.values_list(
            "visitorgrant__cardholder_id", "visitorgrant__valid_from", "visitorgrant__valid_to",
            "door__controller_id", "door__number"):
        by_grant[(holder, controller, _epoch(start), _epoch(end))].add(number)
    for (holder, controller, start_ts, end_ts), numbers in by_grant.items():
        rules[holder][controller].append(Rule(doors=frozenset(numbers), windows=ALWAYS,
                                              valid_from=start_ts, valid_to=end_ts))
    return rules


@dataclass(frozen=True)
class DesiredGrant:
    cardholder_id: int
    grant: PublishedGrant


def grants_desired(holder_ids: Collection[int], combine: Combiner,
                   ) -> dict[tuple[int, str], DesiredGrant]:
    """{(controller, card_no): grant} the lists should hold for these holders now."""
    cards = usable_cards(holder_ids)
    if not cards:
        return {}
    desired: dict[tuple[int, str], DesiredGrant] = {}
    for holder, by_controller in holder_rules(set(cards)).items():
        for controller, rules in by_controller.items():
            grant = publish(rules, combine)
            if grant is not None:
                desired[(controller, cards[holder])] = DesiredGrant(holder, grant)
    return desired


# --- Doors as controllers decide them -------------------------------------------------------


@dataclass(frozen=True)
class DoorSettings:
    """One door's decision settings, with the schedule code behind its unlock windows."""

    state: DoorState
    unlock_schedule: str | None

    def as_json(self) -> dict[str, Any]:
        s = self.state
        return {"door": s.number, "direction": s.direction, "mode": s.mode,
                "except": sorted(s.except_cards), "unlock_schedule": self.unlock_schedule,
                "first_card": None if s.first_card_cards is None else sorted(s.first_card_cards),
                "antipassback": s.antipassback}

    @property
    def is_set(self) -> bool:
        s = self.state
        return bool(s.direction or s.mode != "normal" or self.unlock_schedule
                    or s.first_card_cards is not None or s.antipassback != AntipassbackMode.OFF)


def door_settings(doors: Iterable[Door]) -> dict[int, DoorSettings]:
    """{door number: settings} of one controller's doors: area anti-passback, a lockdown
    in force, unlocked hours and first-card cards."""
    doors = list(doors)
    areas = {d.area_id for d in doors if d.area_id}
    lockdowns = {ld.area_id: ld for ld in Lockdown.objects.filter(
        area_id__in=areas, ended_at__isnull=True)}
    windows = schedule_windows({d.unlock_schedule_id for d in doors if d.unlock_schedule_id})
    group_cards: dict[int, frozenset[str]] = {}
    for group in {d.first_card_group_id for d in doors if d.first_card_group_id} | {
            ld.except_group_id for ld in lockdowns.values() if ld.except_group_id}:
        group_cards[group] = cards_of_groups([group])
    out: dict[int, DoorSettings] = {}
    for door in doors:
        lockdown = lockdowns.get(door.area_id) if door.area_id else None
        state = DoorState(
            number=door.number, direction=door.direction or None,
            antipassback=door.area.antipassback if door.area else AntipassbackMode.OFF,
            mode=lockdown.mode if lockdown else "normal",
            except_cards=group_cards.get(lockdown.except_group_id, frozenset())
            if lockdown and lockdown.except_group_id else frozenset(),
            unlock_windows=windows.get(door.unlock_schedule_id, ())
            if door.unlock_schedule_id else None,
            first_card_cards=group_cards.get(door.first_card_group_id, frozenset())
            if door.first_card_group_id else None,
        )
        out[door.number] = DoorSettings(
            state=state,
            unlock_schedule=door.unlock_schedule.code if door.unlock_schedule else None)
    return out


def controller_doors(controller: Terminal) -> list[Door]:
    return list(Door.objects.filter(controller=controller)
                .select_related("area", "unlock_schedule").order_by("number"))


# --- The access list (terminal-protocol.md §5, GET access-list) ---------------------------


def list_version(controller: Terminal) -> int:
    row = ControllerListVersion.objects.filter(controller=controller).values_list(
        "version", flat=True).first()
    return int(row or 0)


def holidays_published(today: dt.date | None = None) -> list[str]:
    """The holidays a controller is told of: from a year back (a badge time a little in
    the past still meets its holiday) onward."""
    today = today or timezone.localdate()
    return [d.isoformat() for d in Holiday.objects.filter(
        date__gte=today - dt.timedelta(days=366)).order_by("date").values_list("date", flat=True)]


def schedules_published(codes: Collection[str]) -> dict[str, list[dict[str, object]]]:
    """Each code's windows as lists carry them: named schedules and combined ones."""
    named = {s.code: s for s in Schedule.objects.filter(code__in=codes)}
    windows = schedule_windows([s.id for s in named.values()])
    out: dict[str, list[dict[str, object]]] = {
        code: [window_json(w) for w in windows.get(s.id, ())] for code, s in named.items()}
    for code, body in CombinedSchedule.objects.filter(code__in=codes).values_list(
            "code", "windows"):
        out[code] = body
    return dict(sorted(out.items()))


def _grant_json(row: tuple[str, list[int], str, int | None, int | None]) -> dict[str, Any]:
    card_no, doors, schedule, valid_from, valid_to = row
    out: dict[str, Any] = {"card_no": card_no, "doors": doors, "schedule": schedule}
    if valid_from is not None:
        out["from"], out["to"] = valid_from, valid_to
    return out


GRANT_FIELDS = ("card_no", "doors", "schedule", "valid_from", "valid_to")


def access_list(controller: Terminal, since: int) -> dict[str, Any]:
    """Full (`since` 0, ahead of the server, or older than the kept change log) or the
    changes after `since`: grants of the cards whose grant changed, `revoke` for those
    that lost it. The doors block, the holidays and every schedule the controller uses
    come with a full list, and with a delta whose range changed settings."""
    row = ControllerListVersion.objects.filter(controller=controller).first()
    version = row.version if row else 0
    pruned = row.pruned_through if row else 0
    if since <= 0 or since > version or since < pruned:
        return _full(controller, version)
    lines = list(AccessListChange.objects.filter(controller=controller, version__gt=since)
                 .values_list("kind", "card_no"))
    cards = {card_no for kind, card_no in lines if kind != ChangeKind.SETTINGS}
    settings_changed = any(kind == ChangeKind.SETTINGS for kind, _card in lines)
    grants = list(ControllerGrant.objects.filter(controller=controller, card_no__in=cards)
                  .order_by("card_no").values_list(*GRANT_FIELDS))
    answer: dict[str, Any] = {"version": version, "full": False}
    codes = {g[2] for g in grants}
    if settings_changed:
        codes |= _controller_codes(controller)
        doors = door_settings(controller_doors(controller))
        codes |= {d.unlock_schedule for d in doors.values() if d.unlock_schedule}
        answer["doors"] = [d.as_json() for d in doors.values()]
        answer["holidays"] = holidays_published()
    answer["schedules"] = schedules_published(codes)
    answer["grants"] = [_grant_json(g) for g in grants]
    answer["revoke"] = sorted(cards - {g[0] for g in grants})
    return answer


def _controller_codes(controller: Terminal) -> set[str]:
    return set(ControllerGrant.objects.filter(controller=controller)
               .values_list("schedule", flat=True).distinct())


def _full(controller: Terminal, version: int) -> dict[str, Any]:
    grants = list(ControllerGrant.objects.filter(controller=controller).order_by("card_no")
                  .values_list(*GRANT_FIELDS))
    doors = door_settings(controller_doors(controller))
    codes = {g[2] for g in grants} | {d.unlock_schedule for d in doors.values()
                                      if d.unlock_schedule}
    answer: dict[str, Any] = {
        "version": version, "full": True, "schedules": schedules_published(codes),
        "grants": [_grant_json(g) for g in grants], "revoke": [],
        "holidays": holidays_published(),
    }
    if any(d.is_set for d in doors.values()):
        answer["doors"] = [d.as_json() for d in doors.values()]
    return answer


# --- The online decision (POST access-check) ------------------------------------------------


def server_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def holiday_dates() -> frozenset[dt.date]:
    return frozenset(Holiday.objects.values_list("date", flat=True))


def _situation(*, door_pk: str, area_id: int | None, state: DoorState, holder_id: int | None,
               moment: Moment) -> Situation:
    """What the server holds of earlier passages, up to the moment: the holder's last
    passage in the area (for an entry door of an anti-passback area) and whether a
    first-card member was let in at this door that day."""
    until = dt.datetime.fromtimestamp(moment.ts, dt.UTC)
    last = None
    if holder_id is not None and area_id and state.antipassback != AntipassbackMode.OFF \
            and state.direction == "entry":
        last = (AccessEvent.objects.filter(
            area_id=area_id, cardholder_id=holder_id, granted=True, direction__isnull=False,
            ts__lte=until).order_by("-ts", "-id").values_list("direction", flat=True).first())
    seen = False
    if state.first_card_cards:
        day_start = moment.local.replace(hour=0, minute=0, second=0, microsecond=0)
        seen = AccessEvent.objects.filter(
            door_id=door_pk, granted=True, card_no__in=state.first_card_cards,
            ts__gte=day_start, ts__lte=until).exists()
    return Situation(last_direction=last, first_card_seen=seen)


def access_snapshot(controller: Terminal, card_no: str, number: int, ts: int,
                    ) -> tuple[CardState, DoorState, Moment, Situation]:
    """The decision's input read from the rules themselves (groups, org units, visitor
    grants): what the lists are computed from. The tests hold the published lists to
    it; `access_check` answers from the published list, which is faster."""
    door = (Door.objects.select_related("area", "unlock_schedule")
            .get(controller=controller, number=number))
    state = door_settings([door])[number].state
    moment = Moment.at(ts, server_zone(), holiday_dates())
    card, usable = card_usable(card_no)
    if card is None:
        return CardState(card_no, known=False), state, moment, Situation()
    rules: tuple[Rule, ...] = ()
    if usable:
        mine = holder_rules([card.cardholder_id], controller_id=controller.pk)
        rules = tuple(mine.get(card.cardholder_id, {}).get(controller.pk, ()))
    card_state = CardState(card_no, known=True, blacklisted=card.blacklisted, rules=rules)
    return card_state, state, moment, _situation(
        door_pk=door.pk, area_id=door.area_id, state=state, holder_id=card.cardholder_id,
        moment=moment)


@dataclass
class _ListState:
    """What one version of a controller's list says besides the grants: its doors'
    settings, the holidays, and the schedules read so far (by code). Kept per process
    and keyed by the version row (number and time of the bump), so any change that
    reaches the controller's list replaces it."""

    key: tuple[int, dt.datetime | None]
    doors: dict[int, tuple[DoorSettings, int | None, str]]
    holidays: frozenset[dt.date]
    schedules: dict[str, tuple[Window, ...]] = field(default_factory=dict)

    def windows(self, code: str) -> tuple[Window, ...]:
        if code not in self.schedules:
            body = schedules_published([code]).get(code, [])
            self.schedules[code] = tuple(window_from_json(w) for w in body)
        return self.schedules[code]


_LIST_STATES: dict[int, _ListState] = {}


def _list_state(controller: Terminal,
                key: tuple[int, dt.datetime | None] | None = None) -> _ListState:
    if key is None:
        row = ControllerListVersion.objects.filter(controller=controller).values_list(
            "version", "updated_at").first()
        key = (int(row[0]), row[1]) if row else (0, None)
    cached = _LIST_STATES.get(controller.pk)
    if cached is not None and cached.key == key:
        return cached
    doors = list(Door.objects.filter(controller=controller).select_related(
        "area", "unlock_schedule"))
    settings_of = door_settings(doors)
    state = _ListState(key=key, holidays=holiday_dates(), doors={
        d.number: (settings_of[d.number], d.area_id, d.pk) for d in doors})
    _LIST_STATES[controller.pk] = state
    return state


def grant_rules(grant: PublishedGrant, windows: Iterable[Window]) -> tuple[Rule, ...]:
    """A published grant read back as rules: its windows grouped by the doors and period
    they are narrowed to (the grant's own period, for a visitor's grant)."""
    every = frozenset(grant.doors)
    groups: dict[tuple[frozenset[int], int | None, int | None], list[Window]] = {}
    for w in windows:
        doors = every if w.doors is None else w.doors & every
        start = grant.valid_from if grant.valid_from is not None else w.valid_from
        end = grant.valid_to if grant.valid_to is not None else w.valid_to
        plain = Window(days=w.days, start=w.start, end=w.end, holidays_open=w.holidays_open)
        groups.setdefault((doors, start, end), []).append(plain)
    return tuple(Rule(doors=doors, windows=tuple(ws), valid_from=start, valid_to=end)
                 for (doors, start, end), ws in groups.items())


def _check_facts(controller: Terminal, card_no: str) -> tuple[
        tuple[int, dt.datetime | None], tuple[bool, int] | None,
        tuple[list[int], str, int | None, int | None] | None]:
    """The version row, the card and its published grant on this controller, in one
    round trip: under load every round trip waits for a core, so a door check asks
    once (the card's columns come from accounts' query, embedded as subqueries)."""
    card = card_by_number_query(card_no)
    grant = ControllerGrant.objects.filter(controller=controller, card_no=card_no)
    row = (ControllerListVersion.objects.filter(controller=controller)
           .annotate(card_known=Exists(card),
                     card_blacklisted=Subquery(card.values("blacklisted")[:1]),
                     card_holder=Subquery(card.values("cardholder_id")[:1]),
                     grant_doors=Subquery(grant.values("doors")[:1]),
                     grant_schedule=Subquery(grant.values("schedule")[:1]),
                     grant_from=Subquery(grant.values("valid_from")[:1]),
                     grant_to=Subquery(grant.values("valid_to")[:1]))
           .values_list("version", "updated_at", "card_known", "card_blacklisted",
                        "card_holder", "grant_doors", "grant_schedule", "grant_from",
                        "grant_to").first())
    if row is None:  # no list published for this controller yet: nothing to join on
        known = card.values_list("blacklisted", "cardholder_id").first()
        published = grant.values_list("doors", "schedule", "valid_from", "valid_to").first()
        return ((0, None), (bool(known[0]), int(known[1])) if known else None,
                (list(published[0]), published[1], published[2], published[3])
                if published else None)
    version, at, known, blacklisted, holder, doors, schedule, start, end = row
    return ((int(version), at), (bool(blacklisted), int(holder)) if known else None,
            (_json_list(doors), schedule, start, end) if schedule is not None else None)


def _json_list(value: Any) -> list[int]:
    # A JSON column read through a subquery may come back undecoded, depending on the
    # driver's adaptation of the subquery's type.
    return [int(d) for d in (json.loads(value) if isinstance(value, str) else value)]


def access_check(controller: Terminal, card_no: str, number: int, ts: int) -> Decision:
    """POST access-check: the decision the controller's current list gives at that
    moment (its published grant for the card, its doors' settings, the holidays), with
    the card's status and the earlier passages the server holds."""
    key, card, published = _check_facts(controller, card_no)
    state = _list_state(controller, key)
    settings_of, area_id, door_pk = state.doors.get(
        number, (DoorSettings(DoorState(number=number), None), None, ""))
    door = settings_of.state
    moment = Moment(ts=ts, local=dt.datetime.fromtimestamp(ts, server_zone()),
                    holidays=state.holidays)
    if card is None:
        return decide(CardState(card_no, known=False), door, moment)
    blacklisted, holder_id = card
    rules: tuple[Rule, ...] = ()
    if published is not None and not blacklisted:
        grant = PublishedGrant(doors=tuple(published[0]), schedule=published[1],
                               valid_from=published[2], valid_to=published[3])
        rules = grant_rules(grant, state.windows(grant.schedule))
    situation = _situation(door_pk=door_pk, area_id=area_id, state=door, holder_id=holder_id,
                           moment=moment)
    return decide(CardState(card_no, known=True, blacklisted=blacklisted, rules=rules), door,
                  moment, situation)
