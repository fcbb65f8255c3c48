"""Grants become lists: versions per controller, deltas, revocations on card status
changes, combined schedules (services and selectors, no HTTP)."""

from __future__ import annotations

import pytest

from access import selectors, services
from access.models import AccessListChange, ChangeKind, ControllerGrant
from accounts import services as accounts
from accounts.errors import UnknownCardholders
from tests.access.scenario import (
    controller,
    holder_with_card,
    local_ts,
    office_hours,
    officer,
    window,
)

pytestmark = pytest.mark.django_db


def check(ctrl, card, door: int, when: str):
    decision = selectors.access_check(ctrl, card.card_no, door, local_ts(when))
    return decision.granted, decision.reason


def test_a_member_badges_in_hours_out_of_hours_and_on_a_holiday(settings) -> None:
    by = officer()
    lab = controller()
    office_hours(by)
    card = holder_with_card()
    group = services.group_create(code="lab-a", name="Lab A", schedule="office-hours",
                                  doors=[f"{lab.terminal_id}-1"], by=by)
    services.group_members_change(group=group, add=[card.cardholder.number], by=by)

    assert check(lab, card, 1, "2030-01-07 08:00") == (True, None)  # Monday
    assert check(lab, card, 1, "2030-01-07 19:00") == (False, "schedule")
    assert check(lab, card, 1, "2030-01-06 10:00") == (False, "schedule")  # Sunday
    assert check(lab, card, 2, "2030-01-07 08:00") == (False, "not_allowed")
    import datetime as dt
    services.holiday_create(date=dt.date(2030, 1, 7), name="Closed", by=by)
    assert check(lab, card, 1, "2030-01-07 08:00") == (False, "schedule")

    listed = selectors.access_list(lab, 0)
    assert listed["grants"] == [{"card_no": card.card_no, "doors": [1],
                                 "schedule": "office-hours"}]
    assert listed["schedules"] == {"office-hours": [
        {"days": [1, 2, 3, 4, 5], "from": "07:30", "to": "19:00"}]}
    assert "2030-01-07" in listed["holidays"]


def test_a_lost_card_is_revoked_in_the_next_delta_unlock_restores_it() -> None:
    by = officer()
    lab, other = controller(), controller(name="Library")
    office_hours(by)
    card = holder_with_card()
    group = services.group_create(code="lab-a", name="Lab A", schedule="office-hours",
                                  doors=[f"{lab.terminal_id}-1", f"{lab.terminal_id}-2"], by=by)
    services.group_members_change(group=group, add=[card.cardholder.number], by=by)
    held = selectors.access_list(lab, 0)["version"]
    untouched = selectors.list_version(other)

    accounts.card_report_loss(card=card, by=by)

    delta = selectors.access_list(lab, held)
    assert (delta["full"], delta["version"], delta["grants"], delta["revoke"]) == (
        False, held + 1, [], [card.card_no])
    assert selectors.list_version(other) == untouched
    assert check(lab, card, 1, "2030-01-07 08:00") == (False, "blacklisted")

    accounts.card_unlock(card=card, by=by)

    delta = selectors.access_list(lab, held + 1)
    assert delta["grants"] == [{"card_no": card.card_no, "doors": [1, 2],
                                "schedule": "office-hours"}]
    assert delta["revoke"] == []


def test_a_replacement_card_inherits_the_holders_grants() -> None:
    by = officer()
    lab = controller()
    office_hours(by)
    old = holder_with_card()
    group = services.group_create(code="lab-a", name="Lab A", schedule="office-hours",
                                  doors=[f"{lab.terminal_id}-1"], by=by)
    services.group_members_change(group=group, add=[old.cardholder.number], by=by)
    held = selectors.list_version(lab)

    new = accounts.card_replace(card=old, uid="a1b2c3d4", by=by)

    delta = selectors.access_list(lab, held)
    assert delta["version"] == held + 1  # one version for the move
    assert delta["grants"] == [{"card_no": new.card_no, "doors": [1],
                                "schedule": "office-hours"}]
    assert delta["revoke"] == [old.card_no]
    assert check(lab, new, 1, "2030-01-07 08:00") == (True, None)


def test_unknown_members_are_refused_whole_listing_them() -> None:
    by = officer()
    office_hours(by)
    card = holder_with_card()
    group = services.group_create(code="lab-a", name="Lab A", schedule="office-hours", by=by)

    with pytest.raises(UnknownCardholders) as refused:
        services.group_members_change(group=group, add=[card.cardholder.number, "NOPE-1",
                                                        "NOPE-0"], by=by)

    assert refused.value.extra["cardholders"] == ["NOPE-0", "NOPE-1"]
    assert not group.members.exists()


def test_two_groups_with_different_schedules_publish_one_combined_schedule() -> None:
    by = officer()
    lab = controller()
    office_hours(by)
    services.schedule_create(code="nights", name="Nights",
                             windows=[window([6], "22:00", "06:00")], by=by)
    card = holder_with_card()
    day = services.group_create(code="day", name="Day", schedule="office-hours",
                                doors=[f"{lab.terminal_id}-1", f"{lab.terminal_id}-2"], by=by)
    night = services.group_create(code="night", name="Night", schedule="nights",
                                  doors=[f"{lab.terminal_id}-2"], by=by)
    for group in (day, night):
        services.group_members_change(group=group, add=[card.cardholder.number], by=by)

    listed = selectors.access_list(lab, 0)

    (grant,) = listed["grants"]
    assert grant["doors"] == [1, 2] and grant["schedule"].startswith("combo-")
    windows = listed["schedules"][grant["schedule"]]
    assert {"days": [6], "from": "22:00", "to": "06:00", "doors": [2]} in windows
    assert {"days": [1, 2, 3, 4, 5], "from": "07:30", "to": "19:00"} in windows
    # Saturday 23:00 and Sunday 05:00: the night window, door 2 only.
    assert check(lab, card, 2, "2030-01-05 23:00") == (True, None)
    assert check(lab, card, 2, "2030-01-06 05:00") == (True, None)
    assert check(lab, card, 1, "2030-01-06 05:00") == (False, "schedule")


def test_only_the_affected_controllers_move_and_each_change_is_one_version() -> None:
    by = officer()
    lab, library = controller(), controller(name="Library")
    office_hours(by)
    a, b = holder_with_card(), holder_with_card()
    group = services.group_create(code="lab-a", name="Lab A", schedule="office-hours",
                                  doors=[f"{lab.terminal_id}-1"], by=by)
    before = selectors.list_version(lab), selectors.list_version(library)

    services.group_members_change(group=group, add=[a.cardholder.number, b.cardholder.number],
                                  by=by)
    services.group_members_change(group=group, add=[a.cardholder.number], by=by)  # no change

    assert (selectors.list_version(lab), selectors.list_version(library)) == (
        before[0] + 1, before[1])
    lines = AccessListChange.objects.filter(controller=lab, version=before[0] + 1)
    assert sorted(lines.values_list("kind", "card_no")) == sorted(
        [(ChangeKind.GRANT, a.card_no), (ChangeKind.GRANT, b.card_no)])
    assert ControllerGrant.objects.filter(controller=library).count() == 0
