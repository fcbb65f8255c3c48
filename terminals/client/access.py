"""The access list a door controller holds, and the decision it makes from it offline
(terminal-protocol.md §5, `GET access-list` and `POST access-check`).

`AccessList` keeps what the server published for this controller: its version, the
grants (one per card: the doors, a schedule code, a visitor's `from`/`to`), every
schedule they name (weekly windows), the holidays and the doors block (modes of a
lockdown with their `except` cards, unlocked hours, first-card cards, anti-passback).
`apply` takes a full answer (it replaces everything) or a delta (grants replace the
card's earlier grant, `revoke` drops cards, schedules are added or replaced; the
doors block and the holidays only when the answer carries them).

`decide` judges a card at a door at a moment as `access-check` does, in the same
order, so that a controller holding the current list and the server never disagree:

1. `blacklisted`: the card is on the blacklist the controller holds;
2. `lockdown`: the door's area is locked and the card is not in its `except` list (a
   locked door lets the excepted cards in whatever their grants; `open` lets everyone);
3. a door standing unlocked (its `unlock_schedule` open, and, with `first_card`, one of
   those cards already let in at this door that local day) lets everyone in;
4. `not_allowed`: no grant, or the grant does not name the door, or is outside its
   `from`/`to`, or none of its schedule's windows is for this door in force now;
5. `schedule`: no such window is open now (a window closed on holidays, the default,
   opens nothing on a holiday; a window whose end is at or before its start runs past
   midnight into the next day, 00:00-00:00 is the whole day);
6. `antipassback`: an entry door of a `hard` area, and the card's last passage in the
   area was an entry; a `soft` area lets it in and flags it.

Time is judged in the server's time zone (`tz`), as the server judges holidays and
windows. A controller cannot tell an unknown card from one without a grant: both are
`not_allowed` here (the server says `unknown_card` for a number no card has).

The passages that steps 3 and 6 depend on are the controller's own (`Passages`): the
last granted direction per card and area, and who was let in at each door each day.
The doors block carries no area; a controller takes all its doors as one area unless a
door names its `area` (an addition the server may make).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from terminals.client import i18n

DEFAULT_TIME_ZONE = "Asia/Shanghai"
ALL_DAYS = frozenset(range(1, 8))
# Every door of the controller is one area unless the doors block names areas.
WHOLE_CONTROLLER = "*"

i18n.register({
    "access_list_malformed": {
        i18n.EN: "The server's access list cannot be read: {detail}",
        i18n.ZH: "无法读取服务器下发的门禁名单：{detail}",
    },
})


class AccessListError(i18n.MessageError):
    """An access-list answer this controller cannot apply; it keeps the list it had."""

    def __init__(self, detail: str) -> None:
        super().__init__("access_list_malformed", detail=detail)


class Reason:
    """Why a door stays shut (terminal-protocol.md §4, `door` records)."""

    NOT_ALLOWED = "not_allowed"
    BLACKLISTED = "blacklisted"
    SCHEDULE = "schedule"
    UNKNOWN_CARD = "unknown_card"
    ANTIPASSBACK = "antipassback"
    LOCKDOWN = "lockdown"


ANTIPASSBACK_SOFT = "antipassback_soft"


@dataclass(frozen=True)
class Decision:
    granted: bool
    reason: str | None = None
    flag: str | None = None  # antipassback_soft: let in, but a second entry

    def as_pair(self) -> tuple[bool, str | None]:
        return self.granted, self.reason


GRANTED = Decision(True)


def _minutes(text: Any) -> int:
    hours, minutes = str(text).split(":")
    value = int(hours) * 60 + int(minutes)
    if not 0 <= value <= 24 * 60:
        raise ValueError(text)
    return value % (24 * 60)


def _epoch(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not epoch seconds: {value!r}")
    return value


@dataclass(frozen=True)
class Window:
    """Open from `start` to `end` (minutes after midnight) on the ISO weekdays `days`
    it starts on; `end <= start` runs into the next day. `doors` and the period narrow
    a window of a combined schedule to some doors of the grant and to a time."""

    days: frozenset[int]
    start: int
    end: int
    holidays_open: bool = False
    doors: frozenset[int] | None = None
    valid_from: int | None = None
    valid_to: int | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Window:
        doors = data.get("doors")
        days = frozenset(int(d) for d in data["days"])
        if not days <= ALL_DAYS:
            raise ValueError(f"days are ISO weekdays: {sorted(days)}")
        return cls(days=days, start=_minutes(data["from"]), end=_minutes(data["to"]),
                   holidays_open=data.get("holidays") == "open",
                   doors=None if doors is None else frozenset(int(d) for d in doors),
                   valid_from=_epoch(data.get("valid_from")),
                   valid_to=_epoch(data.get("valid_to")))

    def in_force(self, ts: int) -> bool:
        return ((self.valid_from is None or self.valid_from <= ts)
                and (self.valid_to is None or ts < self.valid_to))

    def for_door(self, door: int) -> bool:
        return self.doors is None or door in self.doors

    def open_at(self, local: dt.datetime, holidays: frozenset[dt.date]) -> bool:
        if local.date() in holidays and not self.holidays_open:
            return False
        minute, day = local.hour * 60 + local.minute, local.isoweekday()
        if self.end > self.start:
            return day in self.days and self.start <= minute < self.end
        yesterday = 7 if day == 1 else day - 1
        return (day in self.days and minute >= self.start) or (
            yesterday in self.days and minute < self.end)


@dataclass(frozen=True)
class Grant:
    card_no: str
    doors: frozenset[int]
    schedule: str
    valid_from: int | None = None
    valid_to: int | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Grant:
        return cls(card_no=str(data["card_no"]), doors=frozenset(int(d) for d in data["doors"]),
                   schedule=str(data["schedule"]), valid_from=_epoch(data.get("from")),
                   valid_to=_epoch(data.get("to")))

    def in_force(self, ts: int) -> bool:
        return ((self.valid_from is None or self.valid_from <= ts)
                and (self.valid_to is None or ts < self.valid_to))


@dataclass(frozen=True)
class DoorBlock:
    """One door's line of the doors block; a door without one is `normal`, with no
    direction, unlocked hours, first-card rule or anti-passback."""

    door: int
    direction: str | None = None
    mode: str = "normal"
    except_cards: frozenset[str] = frozenset()
    unlock_schedule: str | None = None
    first_card: frozenset[str] | None = None
    antipassback: str = "off"
    area: str | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> DoorBlock:
        mode = data.get("mode") or "normal"
        antipassback = data.get("antipassback") or "off"
        direction = data.get("direction")
        if mode not in ("normal", "locked", "open"):
            raise ValueError(f"door mode {mode!r}")
        if antipassback not in ("off", "soft", "hard"):
            raise ValueError(f"antipassback {antipassback!r}")
        if direction not in (None, "entry", "exit"):
            raise ValueError(f"direction {direction!r}")
        first = data.get("first_card")
        area = data.get("area")
        return cls(door=int(data["door"]), direction=direction, mode=mode,
                   except_cards=frozenset(str(c) for c in data.get("except") or ()),
                   unlock_schedule=data.get("unlock_schedule") or None,
                   first_card=None if first is None else frozenset(str(c) for c in first),
                   antipassback=antipassback, area=None if area is None else str(area))

    @property
    def area_key(self) -> str:
        return self.area or WHOLE_CONTROLLER

    @property
    def needs_passages(self) -> bool:
        """Whether a decision here may depend on earlier passages (anti-passback on an
        entry door, or a first-card rule)."""
        return (self.antipassback != "off" and self.direction == "entry") or (
            self.first_card is not None and self.unlock_schedule is not None)


@dataclass
class Passages:
    """What the controller remembers of the passages it let through: the last direction
    per (area, card), and the cards let in at each door on each local date (a first-card
    door unlocks once one of its cards is among them). Dates before yesterday are
    forgotten."""

    last_direction: dict[tuple[str, str], str] = field(default_factory=dict)
    let_in: dict[tuple[int, str], set[str]] = field(default_factory=dict)

    def last(self, area: str, card_no: str) -> str | None:
        return self.last_direction.get((area, card_no))

    def seen(self, door: int, date: dt.date, cards: Iterable[str]) -> bool:
        today = self.let_in.get((door, date.isoformat()), set())
        return any(card in today for card in cards)

    def remember(self, card_no: str, door: int, block: DoorBlock, local: dt.datetime,
                 decision: Decision) -> None:
        if not decision.granted:
            return
        if block.direction is not None:
            self.last_direction[(block.area_key, card_no)] = block.direction
        day = local.date().isoformat()
        self.let_in.setdefault((door, day), set()).add(card_no)
        keep = (local.date() - dt.timedelta(days=1)).isoformat()
        for key in [k for k in self.let_in if k[1] < keep]:
            del self.let_in[key]

    def as_json(self) -> dict[str, Any]:
        return {"last": [[a, c, d] for (a, c), d in sorted(self.last_direction.items())],
                "let_in": [[door, day, sorted(cards)]
                           for (door, day), cards in sorted(self.let_in.items())]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Passages:
        if not data:
            return cls()
        return cls(last_direction={(a, c): d for a, c, d in data.get("last", [])},
                   let_in={(int(door), day): set(cards)
                           for door, day, cards in data.get("let_in", [])})


NO_PASSAGES = Passages()


class AccessList:
    """The list one controller holds (see the module's docstring)."""

    def __init__(self, time_zone: str = DEFAULT_TIME_ZONE) -> None:
        self.tz = ZoneInfo(time_zone)
        self.version = 0
        self.grants: dict[str, Grant] = {}
        self.schedules: dict[str, tuple[Window, ...]] = {}
        self.doors: dict[int, DoorBlock] = {}
        self.holidays: frozenset[dt.date] = frozenset()
        self._raw_schedules: dict[str, list[dict[str, Any]]] = {}
        self._raw_doors: list[dict[str, Any]] = []

    # --- Applying the server's answers ----------------------------------------------------

    def apply(self, answer: Mapping[str, Any]) -> None:
        """Apply a full answer or a delta; AccessListError (and the list unchanged) when
        it cannot be read."""
        try:
            version = answer["version"]
            if isinstance(version, bool) or not isinstance(version, int) or version < 0:
                raise ValueError(f"version {version!r}")
            full = bool(answer.get("full"))
            schedules = {str(code): (tuple(Window.of(w) for w in windows), list(windows))
                         for code, windows in (answer.get("schedules") or {}).items()}
            grants = [Grant.of(g) for g in answer.get("grants") or ()]
            revoke = [str(c) for c in answer.get("revoke") or ()]
            doors = None
            if "doors" in answer:
                doors = [DoorBlock.of(d) for d in answer["doors"] or ()]
            holidays = None
            if "holidays" in answer:
                holidays = frozenset(dt.date.fromisoformat(str(d))
                                     for d in answer["holidays"] or ())
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise AccessListError(f"{type(exc).__name__}: {exc}") from exc
        if full:
            self.grants, self.schedules, self._raw_schedules = {}, {}, {}
            self.doors, self._raw_doors, self.holidays = {}, [], frozenset()
        for code, (windows, raw) in schedules.items():
            self.schedules[code] = windows
            self._raw_schedules[code] = raw
        for grant in grants:
            self.grants[grant.card_no] = grant
        for card_no in revoke:
            self.grants.pop(card_no, None)
        if doors is not None:
            self.doors = {d.door: d for d in doors}
            self._raw_doors = [dict(d) for d in answer["doors"] or ()]
        if holidays is not None:
            self.holidays = holidays
        self.version = version

    def as_json(self) -> dict[str, Any]:
        """The list as a full answer, to keep on disk and `apply` after a restart."""
        answer: dict[str, Any] = {
            "version": self.version, "full": True, "schedules": self._raw_schedules,
            "grants": [self._grant_json(g) for g in self.grants.values()], "revoke": [],
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }
        if self._raw_doors:
            answer["doors"] = self._raw_doors
        return answer

    @staticmethod
    def _grant_json(grant: Grant) -> dict[str, Any]:
        out: dict[str, Any] = {"card_no": grant.card_no, "doors": sorted(grant.doors),
                               "schedule": grant.schedule}
        if grant.valid_from is not None or grant.valid_to is not None:
            out["from"], out["to"] = grant.valid_from, grant.valid_to
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None,
                  time_zone: str = DEFAULT_TIME_ZONE) -> AccessList:
        held = cls(time_zone)
        if data:
            held.apply(data)
        return held

    # --- The decision -----------------------------------------------------------------------

    def door(self, number: int) -> DoorBlock:
        return self.doors.get(number) or DoorBlock(door=number)

    def local(self, ts: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(ts, self.tz)

    def _open(self, windows: Iterable[Window], ts: int, local: dt.datetime) -> bool:
        return any(w.in_force(ts) and w.open_at(local, self.holidays) for w in windows)

    def unlocked(self, block: DoorBlock, ts: int, passages: Passages = NO_PASSAGES) -> bool:
        """The door stands unlocked: its unlocked hours, and for a first-card door one of
        its cards already let in there today."""
        if block.unlock_schedule is None:
            return False
        local = self.local(ts)
        if not self._open(self.schedules.get(block.unlock_schedule, ()), ts, local):
            return False
        return block.first_card is None or passages.seen(block.door, local.date(),
                                                         block.first_card)

    def decide(self, card_no: str, door: int, ts: int, *, blacklisted: bool = False,
               passages: Passages = NO_PASSAGES) -> Decision:
        if blacklisted:
            return Decision(False, Reason.BLACKLISTED)
        block = self.door(door)
        if block.mode == "locked":
            return GRANTED if card_no in block.except_cards else Decision(False, Reason.LOCKDOWN)
        if block.mode == "open" or self.unlocked(block, ts, passages):
            return GRANTED
        grant = self.grants.get(card_no)
        if grant is None or door not in grant.doors or not grant.in_force(ts):
            return Decision(False, Reason.NOT_ALLOWED)
        windows = [w for w in self.schedules.get(grant.schedule, ())
                   if w.for_door(door) and w.in_force(ts)]
        if not windows:
            return Decision(False, Reason.NOT_ALLOWED)
        local = self.local(ts)
        if not any(w.open_at(local, self.holidays) for w in windows):
            return Decision(False, Reason.SCHEDULE)
        if block.direction != "entry" or block.antipassback == "off" or passages.last(
                block.area_key, card_no) != "entry":
            return GRANTED
        if block.antipassback == "hard":
            return Decision(False, Reason.ANTIPASSBACK)
        return Decision(True, flag=ANTIPASSBACK_SOFT)
