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
