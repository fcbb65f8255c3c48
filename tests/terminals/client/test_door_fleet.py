"""Door controllers in the simulated fleet, against the real server (a live HTTP server on
the test database): they poll their access lists, decide every card offline, upload a
`door` record for each decision, and every decision made with the server's current list
is the one `access-check` gives at the same moment."""

from __future__ import annotations

import pytest

from access.models import AccessEvent, ControllerListVersion, EventFlag
from access.simulation import security_office
from terminals.client.access import Decision
from terminals.fleet.doors import agree
from terminals.models import HeartbeatLog, Terminal, TerminalRecord
from terminals.simulator import SimulationOptions, run_simulation


@pytest.mark.django_db(transaction=True)
def test_door_controllers_decide_offline_as_the_server_would(live_server, purse_key):
    lines: list[str] = []
    options = SimulationOptions(
        server=live_server.url, pos=0, kiosks=1, cards=30, door_controllers=2,
        doors_per_controller=3, seconds=10, offline_rate=0.2, duplicate_rate=0.2, batch=25,
        seed=11, lost_cards=2, sync_every=0.5, offline_for=(0.5, 1.5), progress_every=2,
        door_pause=0.01, access_changes=3, log=lines.append,
    )

    summary = run_simulation(options, security_office)

    text = summary.as_text()
    assert summary.ok, text
    assert summary.door_controllers == 2
    assert summary.door_decisions >= 10, text
    assert summary.door_granted > 0 and summary.door_denied > 0, text
    assert summary.door_reasons["not_allowed"] > 0, text
    assert summary.door_compared >= 3, text
    assert summary.door_compared + sum(summary.door_not_compared.values()) == \
        summary.door_decisions
    assert summary.door_disagreements == [], text
    assert summary.access_changes == 3
    assert summary.access_list_polls > 4 and summary.access_list_full >= 2, text
    assert summary.access_list_revoked > 0, "lost cards and leavers come as revokes"
    assert "every one agrees" in text
    # Every decision reached the server as a door record, and became a door event.
    doors = Terminal.objects.filter(kind="door")
    records = TerminalRecord.objects.filter(terminal__in=doors, status="accepted")
    assert records.count() == summary.door_decisions
    assert AccessEvent.objects.count() == summary.door_decisions
    # Honest controllers decide from their lists: none is said to decide otherwise.
    assert not AccessEvent.objects.filter(flag_reason=EventFlag.DECISION_DIFFERS).exists()
    # Each controller ends on the server's version and said so in its heartbeat.
    for row in ControllerListVersion.objects.filter(controller__in=doors):
        assert row.version > 1
        last = HeartbeatLog.objects.filter(terminal=row.controller).order_by("-at").first()
        assert last is not None and last.access_list_version == row.version
    assert any("security office:" in line for line in lines)


@pytest.mark.parametrize(("offline", "server", "same"), [
    (Decision(True), {"granted": True, "reason": None}, True),
    (Decision(False, "schedule"), {"granted": False, "reason": "schedule"}, True),
    (Decision(False, "not_allowed"), {"granted": False, "reason": "unknown_card"}, True),
    (Decision(False, "not_allowed"), {"granted": False, "reason": "schedule"}, False),
    (Decision(True), {"granted": False, "reason": "blacklisted"}, False),
    (Decision(False, "antipassback"), {"granted": True, "reason": None}, False),
])
def test_what_counts_as_the_same_decision(offline, server, same):
    assert agree(offline, server) is same
