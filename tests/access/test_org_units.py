"""The school reorganises: a department moved under the faculty an access group names
gets its doors in the very next delta, and loses them when moved away (no HTTP)."""

from __future__ import annotations

import pytest

from access import selectors, services
from accounts import services as accounts
from accounts.models import OrgUnitKind
from tests.access.scenario import controller, holder_with_card, office_hours, officer

pytestmark = pytest.mark.django_db


def faculty_group(by, lab, code="science-labs"):
    office_hours(by)
    science = accounts.org_unit_ensure(code="SCI", name="Faculty of Science",
                                       kind=OrgUnitKind.SCHOOL, by=by)
    group = services.group_create(code=code, name="Science labs", schedule="office-hours",
                                  doors=[f"{lab.terminal_id}-1"], by=by)
    services.group_org_units_change(group=group, add=["SCI"], by=by)
    return science, group


def test_a_department_moved_under_the_faculty_is_granted_then_revoked_when_moved_away():
    by = officer()
    lab, library = controller(), controller(name="Library")
    science, _group = faculty_group(by, lab)
    card = holder_with_card(department="PHY")
    physics = card.cardholder.org_unit
    classmate = holder_with_card(department="PHY-1")  # a class below the department
    accounts.org_unit_update(unit=classmate.cardholder.org_unit, parent=physics, by=by)
    held = selectors.access_list(lab, 0)["version"]
    untouched = selectors.list_version(library)

    accounts.org_unit_update(unit=physics, parent=science, by=by)

    delta = selectors.access_list(lab, held)
    assert delta["version"] == held + 1
    assert sorted(g["card_no"] for g in delta["grants"]) == sorted(
        [card.card_no, classmate.card_no])
    assert selectors.list_version(library) == untouched

    accounts.org_unit_update(unit=physics, parent=None, by=by)

    delta = selectors.access_list(lab, held + 1)
    assert (delta["grants"], sorted(delta["revoke"])) == (
        [], sorted([card.card_no, classmate.card_no]))


def test_a_rename_leaves_every_list_as_it_is():
    by = officer()
    lab = controller()
    science, _group = faculty_group(by, lab)
    held = selectors.list_version(lab)

    accounts.org_unit_update(unit=science, name="School of Science", by=by)

    assert selectors.list_version(lab) == held


def test_a_first_card_door_hears_of_its_supervisors_department_moving_in():
    by = officer()
    lab = controller()
    science, _group = faculty_group(by, lab, code="supervisors")
    services.door_update(door=selectors.door_get(f"{lab.terminal_id}-1"),
                         unlock_schedule="office-hours", first_card_group="supervisors", by=by)
    supervisor = holder_with_card(department="PHY")
    held = selectors.list_version(lab)

    accounts.org_unit_update(unit=supervisor.cardholder.org_unit, parent=science, by=by)

    (first,) = [d for d in selectors.access_list(lab, held).get("doors", []) if d["door"] == 1]
    assert first["first_card"] == [supervisor.card_no]
