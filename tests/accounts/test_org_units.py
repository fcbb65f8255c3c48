"""The card office reorganises the school: a department renamed, moved under a faculty,
never under itself."""

from __future__ import annotations

import pytest

from accounts import services
from accounts.errors import OrgUnitCycle
from accounts.models import AuditEvent, OrgUnitKind
from accounts.signals import org_unit_changed
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """What org_unit_changed told the apps above."""
    calls: list[dict] = []

    def receiver(**kwargs):
        calls.append(kwargs)

    org_unit_changed.connect(receiver, dispatch_uid="test.org_unit_changed")
    yield calls
    org_unit_changed.disconnect(dispatch_uid="test.org_unit_changed")


def units(by):
    science = services.org_unit_ensure(code="SCI", name="Faculty of Science",
                                       kind=OrgUnitKind.SCHOOL, by=by)
    physics = services.org_unit_ensure(code="PHY", name="Physics", by=by)
    return science, physics


def test_a_department_moves_under_a_faculty_and_is_renamed_with_one_audit_row(heard):
    clerk = StaffFactory(role="card_office")
    science, physics = units(clerk)

    services.org_unit_update(unit=physics, parent=science, name="Physics Dept.", by=clerk,
                             channel="admin")

    physics.refresh_from_db()
    assert (physics.parent, physics.name) == (science, "Physics Dept.")
    event = AuditEvent.objects.get(action="org_unit.update")
    assert (event.subject_id, event.channel) == ("PHY", "admin")
    assert (event.before, event.after) == (
        {"code": "PHY", "name": "Physics", "kind": "department", "parent": None},
        {"code": "PHY", "name": "Physics Dept.", "kind": "department", "parent": "SCI"})
    assert [(h["unit"], h["fields"], h["old_parent"]) for h in heard] == [
        (physics, ["name", "parent"], None)]


def test_nothing_changed_is_neither_audited_nor_announced(heard):
    clerk = StaffFactory(role="card_office")
    _science, physics = units(clerk)

    services.org_unit_update(unit=physics, name="Physics", parent=None, by=clerk)

    assert not AuditEvent.objects.filter(action="org_unit.update").exists()
    assert heard == []


def test_a_unit_is_never_placed_under_itself_or_a_unit_below_it(heard):
    clerk = StaffFactory(role="card_office")
    science, physics = units(clerk)
    optics = services.org_unit_ensure(code="OPT", name="Optics", parent=physics, by=clerk)
    services.org_unit_update(unit=physics, parent=science, by=clerk)
    heard.clear()

    for unit, under in ((science, science), (science, optics), (physics, optics)):
        with pytest.raises(OrgUnitCycle) as refused:
            services.org_unit_update(unit=unit, parent=under, by=clerk)
        assert refused.value.code == "org_unit_cycle"

    science.refresh_from_db()
    assert science.parent is None
    assert heard == []
    assert AuditEvent.objects.filter(action="org_unit.update").count() == 1
