"""What access does when the apps below it report an event (connected in
AccessConfig.ready()); each runs inside the transaction of the change it hears of."""

from __future__ import annotations

from typing import Any

from access import selectors, services
from access.alarms import controller_faults_record
from access.events import door_records_of_batch
from access.models import AccessGroupOrgUnit
from access.services.lists import Affected
from terminals.models import RecordType


def on_card_status_changed(*, card: Any, action: str, **_kwargs: Any) -> None:
    # A replacement is announced twice: `replace` for the old card, then `issue` for the
    # new one. The second refresh moves the holder's grants from the one to the other in
    # one version; the first would only add a version in between.
    if action == "replace":
        return
    services.lists_refresh(Affected(holders={card.cardholder_id}))


def on_cardholder_changed(*, cardholder: Any, fields: list[str], **_kwargs: Any) -> None:
    groups: set[int] = set()
    if "department" in fields:  # first-card and excepted groups by org unit may change
        groups = set(AccessGroupOrgUnit.objects.values_list("group_id", flat=True))
    services.lists_refresh(Affected(holders={cardholder.pk}, groups=groups))


def on_org_unit_changed(*, unit: Any, fields: list[str], old_parent: Any,
                        **_kwargs: Any) -> None:
    if "parent" not in fields:  # a name is in no list
        return
    # The subtree's holders leave the groups of the old position and join those of the
    # new; first-card and excepted groups by org unit may change with them.
    groups = set(AccessGroupOrgUnit.objects.values_list("group_id", flat=True))
    services.lists_refresh(Affected(holders=selectors.holders_of_org_units([unit.pk]),
                                    groups=groups))


def on_terminal_registered(*, terminal: Any, **_kwargs: Any) -> None:
    services.doors_register(controller=terminal)


def on_records_accepted(*, terminal: Any, records: list[tuple[int, str]],
                        **_kwargs: Any) -> None:
    door = [seq for seq, kind in records if kind == RecordType.DOOR]
    if door:  # each becomes a door event (access.events), in the ingest's transaction
        door_records_of_batch(terminal=terminal, seqs=door)


def on_heartbeat_received(*, terminal: Any, report: dict[str, Any], at: Any,
                          previous_faults: list[Any] | None = None, **_kwargs: Any) -> None:
    # door_held_open / door_forced become alarms; a fault the heartbeat before also
    # reported continues the same occurrence.
    controller_faults_record(controller=terminal, faults=report.get("faults") or [],
                             previous=previous_faults or [], at=at)
