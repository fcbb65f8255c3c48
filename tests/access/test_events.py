"""Door records become door events (access.events): a security officer's doors, a door
controller uploading signed `door` records over the terminal protocol, and the events
security reads afterwards: who, which door, granted or denied and why, the direction,
the list version the controller held, and what is flagged."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from access import selectors, services
from access.events import door_record_project, door_records_project, door_records_project_pending
from access.models import AccessEvent, AccessListChange, Door, EventFlag
from access.tasks import change_log_prune
from accounts import services as accounts
from terminals.models import Terminal, TerminalRecord
from tests.access.door_records import (
    door_controller,
    heartbeat,
    later,
    list_version,
    passage,
    records_stored_without_events,
    upload,
)
from tests.access.scenario import holder_with_card, officer, window
from tests.concurrent import run_at_once
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _catch_up_makes_the_events() -> Any:
    """The events of these tests are made by the catch-up, not at ingest."""
    with records_stored_without_events():
        yield


def lab_group(by: Any, *doors: str, members: list[Any]) -> Any:
    if not Door.objects.filter(pk__in=doors).exists():
        raise AssertionError(f"no doors {doors}")
    # Open at every hour: what the server decides does not hang on when the test runs.
    services.schedule_create(code="always", name="Always", holidays="open",
                             windows=[window(list(range(1, 8)), "00:00", "00:00")], by=by)
    group = services.group_create(code="lab-a", name="Lab A", schedule="always",
                                  doors=list(doors), by=by)
    services.group_members_change(group=group, add=[c.cardholder.number for c in members],
                                  by=by)
    return group


def event_of(ctrl: Any, seq: int) -> AccessEvent:
    return AccessEvent.objects.select_related("door", "area", "cardholder").get(
        record__terminal__terminal_id=ctrl.terminal_id, record__terminal_seq=seq)


def test_each_door_record_becomes_an_event_with_who_where_and_why() -> None:
    by = officer()
    lab = door_controller(doors=2)
    card = holder_with_card()
    services.area_create(code="lab", name="Lab building", by=by)
    services.door_update(door=Door.objects.get(pk=f"{lab.terminal_id}-1"), area="lab",
                         direction="entry", by=by)
    lab_group(by, f"{lab.terminal_id}-1", members=[card])
    heartbeat(lab, access_list_version=list_version(lab))
    t = later()
    upload(lab,
           passage(lab, card.card_no, 1, t),
           passage(lab, card.card_no, 2, t + 60, result="denied", reason="not_allowed",
                   direction="exit"),
           passage(lab, "99999999", 1, t + 120, result="denied", reason="unknown_card"))

    assert door_records_project_pending() == 3

    entry, refused, stranger = (event_of(lab, seq) for seq in (1, 2, 3))
    assert entry.area is not None
    assert (entry.door_id, entry.area.code, entry.cardholder, entry.card_no) == (
        f"{lab.terminal_id}-1", "lab", card.cardholder, card.card_no)
    assert (entry.granted, entry.reason, entry.direction) == (True, "", "entry")
    assert int(entry.ts.timestamp()) == t
    assert entry.list_version_held == list_version(lab)
    assert not entry.flagged
    # The record's own direction counts; the door has none and no area.
    assert (refused.granted, refused.reason, refused.direction, refused.area) == (
        False, "not_allowed", "exit", None)
    assert (stranger.cardholder, stranger.card_no, stranger.reason) == (
        None, "99999999", "unknown_card")


def test_a_lost_card_let_in_by_a_controller_on_an_old_list_is_flagged_for_security() -> None:
    by, clerk = officer(), StaffFactory(role="card_office")
    lagging, current = door_controller(name="North gate"), door_controller(name="South gate")
    card = holder_with_card()
    lab_group(by, f"{lagging.terminal_id}-1", f"{current.terminal_id}-1", members=[card])
    granted_in = list_version(lagging)
    heartbeat(lagging, access_list_version=granted_in)

    accounts.card_report_loss(card=card, by=clerk)

    revoked_in = list_version(current)
    assert revoked_in == list_version(lagging) == granted_in + 1
    heartbeat(current, access_list_version=revoked_in)  # this one fetched the revocation
    t = later()
    upload(lagging, passage(lagging, card.card_no, 1, t),
           passage(lagging, card.card_no, 1, t + 30, direction="exit"))
    upload(current, passage(current, card.card_no, 1, t + 60))

    door_records_project_pending()

    let_in = event_of(lagging, 1)
    assert (let_in.flagged, let_in.flag_reason) == (True, EventFlag.REVOKED_CARD_LET_IN)
    assert let_in.list_version_held == granted_in
    # Letting the card out is no breach; the up-to-date controller's list is not to blame.
    assert not event_of(lagging, 2).flagged
    assert event_of(current, 1).list_version_held == revoked_in
    assert event_of(current, 1).flag_reason != EventFlag.REVOKED_CARD_LET_IN


def test_a_card_never_heard_of_by_heartbeat_is_judged_against_version_zero() -> None:
    by, clerk = officer(), StaffFactory(role="card_office")
    silent = door_controller()
    card = holder_with_card()
    lab_group(by, f"{silent.terminal_id}-1", members=[card])
    accounts.card_report_loss(card=card, by=clerk)
    upload(silent, passage(silent, card.card_no, 1, later()))

    door_records_project_pending()

    event = event_of(silent, 1)
    assert event.list_version_held is None
    assert event.flag_reason == EventFlag.REVOKED_CARD_LET_IN


def test_a_second_entry_in_a_soft_area_is_flagged_judged_in_the_order_people_passed() -> None:
    by = officer()
    entrance, way_out = door_controller(name="Entrance"), door_controller(name="Exit")
    card = holder_with_card()
    services.area_create(code="dorm", name="Dormitory", antipassback="soft", by=by)
    services.door_update(door=Door.objects.get(pk=f"{entrance.terminal_id}-1"), area="dorm",
                         direction="entry", by=by)
    services.door_update(door=Door.objects.get(pk=f"{way_out.terminal_id}-1"), area="dorm",
                         direction="exit", by=by)
    t = later()
    # The entrance uploads its three entries first; the exit between them arrives later.
    upload(entrance, passage(entrance, card.card_no, 1, t),
           passage(entrance, card.card_no, 1, t + 300),
           passage(entrance, card.card_no, 1, t + 400))
    upload(way_out, passage(way_out, card.card_no, 1, t + 200))

    door_records_project_pending()

    first, after_exit, again = (event_of(entrance, seq) for seq in (1, 2, 3))
    assert not first.flagged
    assert not after_exit.flagged  # the exit at t + 200 came between
    assert (again.granted, again.flag_reason) == (True, EventFlag.ANTIPASSBACK_SOFT)
    assert not event_of(way_out, 1).flagged


def test_projecting_again_changes_nothing() -> None:
    lab = door_controller()
    card = holder_with_card()
    upload(lab, passage(lab, card.card_no, 1, later()), passage(lab, card.card_no, 2, later()))

    assert door_records_project_pending() == 2
    assert door_records_project_pending() == 0
    record = TerminalRecord.objects.get(terminal__terminal_id=lab.terminal_id, terminal_seq=1)
    assert door_record_project(record) == event_of(lab, 1)
    assert AccessEvent.objects.count() == 2


def test_a_controller_whose_doors_were_never_made_gets_them_when_its_records_arrive() -> None:
    lab = door_controller(doors=3)
    card = holder_with_card()
    upload(lab, passage(lab, card.card_no, 3, later()))
    Door.objects.filter(controller__terminal_id=lab.terminal_id).delete()

    assert door_records_project_pending() == 1

    assert event_of(lab, 1).door_id == f"{lab.terminal_id}-3"
    assert Door.objects.filter(controller__terminal_id=lab.terminal_id).count() == 3



def dormitory(by: Any) -> tuple[Any, Any]:
    """A soft anti-passback dormitory: an entrance controller and an exit controller."""
    entrance, way_out = door_controller(name="Entrance"), door_controller(name="Exit")
    services.area_create(code="dorm", name="Dormitory", antipassback="soft", by=by)
    services.door_update(door=Door.objects.get(pk=f"{entrance.terminal_id}-1"), area="dorm",
                         direction="entry", by=by)
    services.door_update(door=Door.objects.get(pk=f"{way_out.terminal_id}-1"), area="dorm",
                         direction="exit", by=by)
    return entrance, way_out


def side_entrance(by: Any) -> Any:
    """A second entrance to the dormitory, on a controller of its own."""
    side_door = door_controller(name="Side entrance")
    services.door_update(door=Door.objects.get(pk=f"{side_door.terminal_id}-1"), area="dorm",
                         direction="entry", by=by)
    return side_door


@pytest.mark.parametrize(("lost", "first_flag", "after_exit"), [
    (False, EventFlag.ANTIPASSBACK_SOFT, ""),
    # A flag judged once stays, whatever the holder's passages say later.
    (True, EventFlag.REVOKED_CARD_LET_IN, EventFlag.REVOKED_CARD_LET_IN),
])
def test_an_exit_uploaded_late_clears_the_second_entry_it_came_before(
        lost: bool, first_flag: str, after_exit: str) -> None:
    by = officer()
    entrance, way_out = dormitory(by)
    card = holder_with_card()
    if lost:
        lab_group(by, f"{entrance.terminal_id}-1", members=[card])
        heartbeat(entrance, access_list_version=list_version(entrance))
        accounts.card_report_loss(card=card, by=StaffFactory(role="card_office"))
    t = later()
    upload(entrance, passage(entrance, card.card_no, 1, t),
           passage(entrance, card.card_no, 1, t + 1800))
    door_records_project_pending()
    assert event_of(entrance, 2).flag_reason == first_flag

    # The exit at t + 900 was kept offline by its controller and arrives now.
    upload(way_out, passage(way_out, card.card_no, 1, t + 900))
    door_records_project_pending()

    assert (event_of(entrance, 2).flagged, event_of(entrance, 2).flag_reason) == (
        bool(after_exit), after_exit)
    assert not event_of(way_out, 1).flagged


def test_an_entry_uploaded_late_flags_the_entry_after_it() -> None:
    entrance, way_out = dormitory(officer())
    side_door = side_entrance(officer())
    card = holder_with_card()
    t = later()
    upload(way_out, passage(way_out, card.card_no, 1, t))
    upload(entrance, passage(entrance, card.card_no, 1, t + 1800))
    door_records_project_pending()
    assert not event_of(entrance, 1).flagged

    upload(side_door, passage(side_door, card.card_no, 1, t + 900))
    door_records_project_pending()

    assert not event_of(side_door, 1).flagged  # after the exit
    assert (event_of(entrance, 1).flagged, event_of(entrance, 1).flag_reason) == (
        True, EventFlag.ANTIPASSBACK_SOFT)


def test_a_controller_deciding_against_the_list_it_held_is_flagged_an_honest_one_is_not(
        ) -> None:
    by = officer()
    liar, honest = door_controller(name="Tampered gate"), door_controller(name="Main gate")
    member, stranger = holder_with_card(), holder_with_card()
    lab_group(by, f"{liar.terminal_id}-1", f"{honest.terminal_id}-1", members=[member])
    heartbeat(liar, access_list_version=list_version(liar))
    heartbeat(honest, access_list_version=list_version(honest))
    t = later()
    upload(liar, passage(liar, stranger.card_no, 1, t),
           passage(liar, member.card_no, 1, t + 60, result="denied", reason="not_allowed"))
    upload(honest, passage(honest, member.card_no, 1, t),
           passage(honest, stranger.card_no, 1, t + 60, result="denied", reason="not_allowed"),
           passage(honest, member.card_no, 2, t + 120, result="denied", reason="not_allowed"))

    door_records_project_pending()

    assert [(e.flagged, e.flag_reason) for e in (event_of(liar, 1), event_of(liar, 2))] == [
        (True, EventFlag.DECISION_DIFFERS)] * 2
    assert not AccessEvent.objects.filter(
        record__terminal__terminal_id=honest.terminal_id, flagged=True).exists()


def test_a_controller_behind_on_its_list_is_not_said_to_decide_otherwise() -> None:
    by = officer()
    lab = door_controller()
    card = holder_with_card()
    heartbeat(lab, access_list_version=list_version(lab))  # before the card's grant
    lab_group(by, f"{lab.terminal_id}-1", members=[card])
    upload(lab, passage(lab, card.card_no, 1, later(), result="denied", reason="not_allowed"))

    door_records_project_pending()

    assert not event_of(lab, 1).flagged


def test_a_revocation_older_than_the_kept_log_still_flags_a_record_that_arrives_late(
        ) -> None:
    by, clerk = officer(), StaffFactory(role="card_office")
    lagging = door_controller(name="Boathouse")
    lost, found = holder_with_card(), holder_with_card()
    lab_group(by, f"{lagging.terminal_id}-1", members=[lost, found])
    held = list_version(lagging)
    heartbeat(lagging, access_list_version=held)  # and then it went offline
    accounts.card_report_loss(card=lost, by=clerk)
    accounts.card_report_loss(card=found, by=clerk)
    accounts.card_unlock(card=found, by=clerk)  # found again, before the passage
    t = later()
    # Months pass before the controller uploads; the hourly job prunes the log meanwhile.
    assert change_log_prune(now=timezone.now() + dt.timedelta(days=90)) > 0
    upload(lagging, passage(lagging, lost.card_no, 1, t), passage(lagging, found.card_no, 1, t))

    door_records_project_pending()

    assert event_of(lagging, 1).flag_reason == EventFlag.REVOKED_CARD_LET_IN
    assert not event_of(lagging, 2).flagged


def test_a_pruned_log_keeps_each_revocation_and_what_ended_it_outside_every_delta() -> None:
    by, clerk = officer(), StaffFactory(role="card_office")
    lab = door_controller()
    lost, found, other = holder_with_card(), holder_with_card(), holder_with_card()
    group = lab_group(by, f"{lab.terminal_id}-1", members=[lost, found])
    accounts.card_report_loss(card=lost, by=clerk)
    accounts.card_report_loss(card=found, by=clerk)
    accounts.card_unlock(card=found, by=clerk)
    services.group_members_change(group=group, remove=[found.cardholder.number], by=by)

    change_log_prune(now=timezone.now() + dt.timedelta(days=90))

    kept = list(AccessListChange.objects.filter(controller__terminal_id=lab.terminal_id)
                .order_by("version").values_list("card_no", "kind"))
    assert kept == [(lost.card_no, "revoke"), (found.card_no, "revoke"),
                    (found.card_no, "grant"), (found.card_no, "revoke")]
    assert change_log_prune(now=timezone.now() + dt.timedelta(days=91)) == 0
    pruned = list_version(lab)
    services.group_members_change(group=group, add=[other.cardholder.number], by=by)
    delta = selectors.access_list(Terminal.objects.get(terminal_id=lab.terminal_id), pruned)
    assert (delta["full"], [g["card_no"] for g in delta["grants"]], delta["revoke"]) == (
        False, [other.card_no], [])


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_two_controllers_uploading_one_holders_entries_at_once_see_each_other() -> None:
    entrance, _way_out = dormitory(officer())
    side_door = side_entrance(officer())
    card = holder_with_card()
    t = later()
    upload(entrance, passage(entrance, card.card_no, 1, t))
    upload(side_door, passage(side_door, card.card_no, 1, t + 1800))

    def records_of(ctrl: Any) -> list[TerminalRecord]:
        return list(TerminalRecord.objects.filter(terminal__terminal_id=ctrl.terminal_id))

    def first() -> None:
        with transaction.atomic():
            door_records_project(records_of(entrance))
            time.sleep(0.5)  # judged, not committed yet, while the other batch comes in

    def second() -> None:
        time.sleep(0.1)
        door_records_project(records_of(side_door))

    outcomes = run_at_once({"first": first, "second": second})

    assert all(o.ok for o in outcomes.values()), outcomes
    assert not event_of(entrance, 1).flagged
    assert event_of(side_door, 1).flag_reason == EventFlag.ANTIPASSBACK_SOFT
