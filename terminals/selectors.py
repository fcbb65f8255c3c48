"""Reads of the terminal registry."""

from __future__ import annotations

import time

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from onecard.errors import NotFound
from terminals.models import Terminal


def terminal_get(terminal_id: str) -> Terminal:
    terminal = Terminal.objects.select_related("merchant").filter(terminal_id=terminal_id).first()
    if terminal is None:
        raise NotFound(_("No terminal %(t)s.") % {"t": terminal_id})
    return terminal


def terminal_list(*, kind: str | None = None, status: str | None = None) -> QuerySet[Terminal]:
    qs = Terminal.objects.select_related("merchant").order_by("terminal_id")
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


POS_DEFAULTS: dict[str, object] = {"mode": "free", "max_amount": 5000, "collect_loads": False}
KIND_DEFAULTS: dict[str, dict[str, object]] = {"pos": POS_DEFAULTS}


def terminal_config(terminal: Terminal) -> dict[str, object]:
    """GET /config (§5): the terminal's parameters over its kind's defaults."""
    merchant = terminal.merchant
    return {
        "terminal_id": terminal.terminal_id,
        "kind": terminal.kind,
        "name": terminal.name,
        "merchant": {"code": merchant.code, "name": merchant.name} if merchant else None,
        "config_version": terminal.config_version,
        "server_time": int(time.time()),
        "params": {**KIND_DEFAULTS.get(terminal.kind, {}), **(terminal.params or {})},
    }


def terminal_may_load(terminal: Terminal) -> bool:
    """Kiosks and issuers write loads; a POS only when its config collects them."""
    if terminal.kind in ("kiosk", "issuer"):
        return True
    return terminal.kind == "pos" and bool(terminal_config(terminal)["params"].get("collect_loads"))  # type: ignore[attr-defined]


HEARTBEAT_DEFAULT_S = 60
MISSED_HEARTBEATS_OFFLINE = 3


def terminal_status(terminal: Terminal, now: float | None = None) -> str:
    """online, offline (3 missed heartbeats), or the registry status when not active."""
    if terminal.status != "active":
        return str(terminal.status)
    interval = (terminal.params or {}).get("heartbeat_s", HEARTBEAT_DEFAULT_S)
    if terminal.last_seen is None:
        return "offline"
    age = (now if now is not None else time.time()) - terminal.last_seen.timestamp()
    return "online" if age <= MISSED_HEARTBEATS_OFFLINE * interval else "offline"


def terminal_overview(terminal: Terminal) -> dict[str, object]:
    return {
        "terminal_id": terminal.terminal_id,
        "kind": terminal.kind,
        "name": terminal.name,
        "merchant": terminal.merchant.code if terminal.merchant else None,
        "doors": terminal.doors,
        "status": terminal_status(terminal),
        "last_seen": terminal.last_seen.isoformat() if terminal.last_seen else None,
        "blacklist_version": terminal.blacklist_version,
        "access_list_version": terminal.access_list_version,
        "last_seq": terminal.contiguous_seq,
        "reported_last_seq": terminal.reported_last_seq,
        "queued_records": terminal.queued_records,
        "faults": terminal.faults,
        "config_version": terminal.config_version,
        "params": terminal.params,
    }
