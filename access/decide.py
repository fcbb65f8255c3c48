"""The door decision, pure: no ORM, no clock. `access.selectors` builds the snapshot from
the database for `access-check`; the same rules, read from a published access list,
are what a controller applies offline (docs/ARCHITECTURE.md, "How grants become lists").

The order of the checks, and so the reason given:

1. `unknown_card`: no card has this number;
2. `blacklisted`: the card is lost, frozen, replaced, cancelled, expired or a suspected
   clone;
3. `lockdown`: the door's area is locked, and the card is not in the excepted group's
   list; a locked area lets the excepted group in whatever their grants (they respond
   to the emergency); an area held open lets every card through;
4. a door standing unlocked (its unlock schedule open, and when it has a first-card
   group, a member already let in there that day) lets every card through;
5. `not_allowed`: none of the holder's grants in force at that moment names the door
   (a group's grant is always in force; a visitor's only from its start to its end);
6. `schedule`: grants name the door, but none of their schedules is open at that moment
   (a schedule closed on holidays opens nothing on a holiday, judged by the date of
   the moment in the server's time zone);
7. `antipassback`: an entry door of a `hard` area, and the holder's last passage in the
   area was an entry; in a `soft` area the door opens and the event is flagged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Window:
    """Open from `start` to `end` (minutes after midnight) on each of `days` (ISO
    weekdays the window starts on). `end <= start` crosses midnight into the next day
    (00:00-00:00 is a whole day). A published combined schedule may narrow a window to
    some of the grant's doors, and to a period (epoch seconds, end excluded)."""

    days: frozenset[int]
    start: int
    end: int
    holidays_open: bool = False
    doors: frozenset[int] | None = None
    valid_from: int | None = None
    valid_to: int | None = None

    def in_force(self, ts: int) -> bool:
        return ((self.valid_from is None or self.valid_from <= ts)
                and (self.valid_to is None or ts < self.valid_to))

    def applies_to(self, door: int) -> bool:
        return self.doors is None or door in self.doors

    def open_at(self, moment: dt.datetime, holidays: Collection[dt.date]) -> bool:
        """`moment` is local (the server's time zone)."""
        if moment.date() in holidays and not self.holidays_open:
            return False
        minute = moment.hour * 60 + moment.minute
        day = moment.isoweekday()
        if self.end > self.start:
            return day in self.days and self.start <= minute < self.end
        yesterday = 7 if day == 1 else day - 1
        return (day in self.days and minute >= self.start) or (
            yesterday in self.days and minute < self.end)


# Every day, every hour, holidays too: a visitor's grant within its period.
ALWAYS = (Window(days=frozenset(range(1, 8)), start=0, end=0, holidays_open=True),)


@dataclass(frozen=True)
class Rule:
    """One source of access on one controller: an access group's doors under its
    schedule (`schedule` is its code), or a visitor grant's doors at any hour within
    its period (`schedule` empty, `windows` ALWAYS)."""

    doors: frozenset[int]
    windows: tuple[Window, ...]
    schedule: str = ""
    valid_from: int | None = None
    valid_to: int | None = None

    def in_force(self, ts: int) -> bool:
        return ((self.valid_from is None or self.valid_from <= ts)
                and (self.valid_to is None or ts < self.valid_to))


class Reason:
    """The reasons of terminal-protocol.md §4 (door records) and operations-api.md."""

    NOT_ALLOWED = "not_allowed"
    BLACKLISTED = "blacklisted"
    SCHEDULE = "schedule"
    UNKNOWN_CARD = "unknown_card"
    ANTIPASSBACK = "antipassback"
    LOCKDOWN = "lockdown"


class Flag:
    ANTIPASSBACK_SOFT = "antipassback_soft"


@dataclass(frozen=True)
class CardState:
    """The card as the decision sees it. `rules` are the holder's grants on this door's
    controller; empty when the holder is not active."""

    card_no: str
    known: bool = True
    blacklisted: bool = False
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class DoorState:
    number: int
    direction: str | None = None  # entry, exit
    antipassback: str = "off"  # the area's: off, soft, hard
    mode: str = "normal"  # normal, locked, open (a lockdown of the area)
    except_cards: frozenset[str] = frozenset()
    unlock_windows: tuple[Window, ...] | None = None
    first_card_cards: frozenset[str] | None = None  # None: no first-card rule


@dataclass(frozen=True)
class Situation:
    """What happened before: the holder's last passage in the door's area (`entry`,
    `exit` or None) and whether a first-card member was let in at this door today."""

    last_direction: str | None = None
    first_card_seen: bool = False


@dataclass(frozen=True)
class Decision:
    granted: bool
    reason: str | None = None
    flag: str | None = None


@dataclass(frozen=True)
class Moment:
    ts: int
    local: dt.datetime
    holidays: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def at(cls, ts: int, tz: ZoneInfo, holidays: Iterable[dt.date] = ()) -> Moment:
        return cls(ts=ts, local=dt.datetime.fromtimestamp(ts, tz), holidays=frozenset(holidays))


def windows_open(windows: Iterable[Window], moment: Moment, door: int | None = None) -> bool:
    return any(w.open_at(moment.local, moment.holidays) for w in windows
               if w.in_force(moment.ts) and (door is None or w.applies_to(door)))


def door_unlocked(door: DoorState, moment: Moment, situation: Situation) -> bool:
    if door.unlock_windows is None or not windows_open(door.unlock_windows, moment):
        return False
    return door.first_card_cards is None or situation.first_card_seen


NOTHING_BEFORE = Situation()


def decide(card: CardState, door: DoorState, moment: Moment,
           situation: Situation = NOTHING_BEFORE) -> Decision:
    if not card.known:
        return Decision(False, Reason.UNKNOWN_CARD)
    if card.blacklisted:
        return Decision(False, Reason.BLACKLISTED)
    if door.mode == "locked":
        if card.card_no in door.except_cards:
            return Decision(True)
        return Decision(False, Reason.LOCKDOWN)
    if door.mode == "open" or door_unlocked(door, moment, situation):
        return Decision(True)
    naming = [r for r in card.rules if door.number in r.doors and r.in_force(moment.ts)]
    if not naming:
        return Decision(False, Reason.NOT_ALLOWED)
    if not any(windows_open(r.windows, moment) for r in naming):
        return Decision(False, Reason.SCHEDULE)
    return _antipassback(door, situation)


def _antipassback(door: DoorState, situation: Situation) -> Decision:
    second_entry = door.direction == "entry" and situation.last_direction == "entry"
    if not second_entry or door.antipassback == "off":
        return Decision(True)
    if door.antipassback == "hard":
        return Decision(False, Reason.ANTIPASSBACK)
    return Decision(True, flag=Flag.ANTIPASSBACK_SOFT)


# --- Publishing a holder's rules as one access-list grant ---------------------------------


@dataclass(frozen=True)
class PublishedGrant:
    """What the access list says of one card on one controller."""

    doors: tuple[int, ...]
    schedule: str
    valid_from: int | None = None
    valid_to: int | None = None


def minutes_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def window_json(window: Window) -> dict[str, object]:
    """A window as access lists carry it: days, from, to, and the additions this server
    makes: `holidays: "open"` (absent: closed on holidays), `doors` (absent: every door
    of the grant), `valid_from`/`valid_to` (epoch seconds)."""
    out: dict[str, object] = {"days": sorted(window.days), "from": minutes_text(window.start),
                              "to": minutes_text(window.end)}
    if window.holidays_open:
        out["holidays"] = "open"
    if window.doors is not None:
        out["doors"] = sorted(window.doors)
    if window.valid_from is not None:
        out["valid_from"] = window.valid_from
    if window.valid_to is not None:
        out["valid_to"] = window.valid_to
    return out


def window_from_json(data: dict[str, object]) -> Window:
    def minutes(text: object) -> int:
        hours, mins = str(text).split(":")
        return int(hours) * 60 + int(mins)

    doors = data.get("doors")
    valid_from, valid_to = data.get("valid_from"), data.get("valid_to")
    return Window(
        days=frozenset(int(d) for d in data["days"]),  # type: ignore[attr-defined]
        start=minutes(data["from"]), end=minutes(data["to"]),
        holidays_open=data.get("holidays") == "open",
        doors=None if doors is None else frozenset(int(d) for d in doors),  # type: ignore[attr-defined]
        valid_from=None if valid_from is None else int(valid_from),  # type: ignore[call-overload]
        valid_to=None if valid_to is None else int(valid_to),  # type: ignore[call-overload]
    )


def publish(rules: Iterable[Rule], combine: Combiner) -> PublishedGrant | None:
    """One grant for a holder's rules on one controller; None when there are none.

    Rules with the same schedule and period merge (their doors join). One rule left is
    published as it is: its schedule's code (a visitor's: the always-open combined
    schedule, with the grant's from/to). Several are published as one combined schedule
    (`combine` names it by content): every rule's windows, each narrowed to that rule's
    doors (when not all of the grant's) and period, so the grant decides each door
    exactly as the rules do."""
    merged: dict[tuple[str, tuple[Window, ...], int | None, int | None], set[int]] = {}
    for rule in rules:
        key = (rule.schedule, rule.windows, rule.valid_from, rule.valid_to)
        merged.setdefault(key, set()).update(rule.doors)
    if not merged:
        return None
    doors = tuple(sorted(set().union(*merged.values())))
    if len(merged) == 1:
        (schedule, windows, valid_from, valid_to), _doors = next(iter(merged.items()))
        code = schedule or combine(windows)
        return PublishedGrant(doors=doors, schedule=code, valid_from=valid_from,
                              valid_to=valid_to)
    every = set(doors)
    combined: list[Window] = []
    for (_schedule, windows, valid_from, valid_to), rule_doors in sorted(
            merged.items(), key=lambda item: (item[0][0], sorted(item[1]))):
        narrowed = None if rule_doors == every else frozenset(rule_doors)
        combined += [Window(days=w.days, start=w.start, end=w.end,
                            holidays_open=w.holidays_open, doors=narrowed,
                            valid_from=valid_from, valid_to=valid_to) for w in windows]
    return PublishedGrant(doors=doors, schedule=combine(tuple(combined)))


class Combiner:
    """Names a combined schedule by its content and remembers it to be stored."""

    PREFIX = "combo-"

    def __init__(self) -> None:
        self.made: dict[str, list[dict[str, object]]] = {}

    def __call__(self, windows: tuple[Window, ...]) -> str:
        body = [window_json(w) for w in windows]
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"))
                                .encode()).hexdigest()[:16]
        code = f"{self.PREFIX}{digest}"
        self.made[code] = body
        return code
