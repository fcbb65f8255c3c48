"""Door controllers in the fleet: each holds its access list, has cards presented at its
doors at random moments, decides offline and uploads a `door` record for each decision.

Every offline decision is held against what the server would have decided: the
`DoorChecker` asks `access-check` for the same card, door and moment, and compares the
two only when the comparison is fair, that is when the controller decided with the
server's current list. That is known without trusting the controller: after the check,
a delta from the version the controller held must name no newer version (versions only
grow, so the list was current at the check too); where the door's decision depends on
earlier passages (an entry door with anti-passback, a first-card door), the server must
hold every earlier record of the controller; and when the two differ, the blacklist the
controller holds must be the server's current one too. A controller cannot tell an
unknown card from one without a grant: `not_allowed` offline agrees with `unknown_card`
from the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from terminals.client.access import Decision, Reason
from terminals.client.door import Presentation
from terminals.client.http import TerminalClient

# Why a decision was not compared.
LIST_BEHIND = "list_behind"
BLACKLIST_BEHIND = "blacklist_behind"
PASSAGES_NOT_UPLOADED = "passages_not_uploaded"
CHECK_FAILED = "check_failed"


def agree(offline: Decision, server: Mapping[str, Any]) -> bool:
    """The controller's decision and access-check's answer are the same decision."""
    granted, reason = bool(server.get("granted")), server.get("reason")
    if offline.granted != granted:
        return False
    if granted:
        return True
    return offline.reason == reason or (
        offline.reason == Reason.NOT_ALLOWED and reason == Reason.UNKNOWN_CARD)


@dataclass(frozen=True)
class Check:
    server: tuple[bool, str | None] | None
    compared: bool = False
    agrees: bool = False
    why_not: str | None = None  # when not compared


class DoorChecker:
    """The server's decision for a presentation, and whether it is fair to compare."""

    def __init__(self, client: TerminalClient) -> None:
        self.client = client

    def check(self, p: Presentation) -> Check:
        answer = self.client.access_check(p.card_no, p.door, p.ts)
        server = (bool(answer.get("granted")), answer.get("reason"))
        if int(self.client.access_list(since=p.list_version)["version"]) != p.list_version:
            return Check(server, why_not=LIST_BEHIND)
        if p.block.needs_passages and p.queued_before:
            return Check(server, why_not=PASSAGES_NOT_UPLOADED)
        agrees = agree(p.decision, answer)
        # Asked only when they differ: the same decision is the same, whatever the
        # blacklist held (it can only have turned `not_allowed` into `blacklisted`).
        if not agrees and int(self.client.blacklist(since=p.blacklist_version)["version"]) \
                != p.blacklist_version:
            return Check(server, why_not=BLACKLIST_BEHIND)
        return Check(server, compared=True, agrees=agrees)
