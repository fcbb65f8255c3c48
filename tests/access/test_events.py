"""Door records become door events (access.events): a security officer's doors, a door
controller uploading signed `door` records over the terminal protocol, and the events
security reads afterwards: who, which door, granted or denied and why, the direction,
the list version the controller held, and what is flagged."""

from __future__ import annotations

from typing import Any

import pytest

from access import services
from access.events import door_record_project, door_records_project_pending
from access.models import AccessEvent, Door, EventFlag
from accounts import services as accounts
from terminals.models import TerminalRecord
from tests.access.door_records import (
    door_controller,
    heartbeat,
    later,
    list_version,
    passage,
    records_stored_without_events,
    upload,
)
from tests.access.scenario import holder_with_card, office_hours, officer
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
    office_hours(by, code="always", holidays="open")
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

