"""Writes of the terminal registry. The full terminal protocol (signed requests,
records, lists) builds on these later."""

from __future__ import annotations

import re
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import crypto
from accounts.audit import audit_record
from accounts.errors import KeysUnavailable
from accounts.keys import kek_get
from accounts.models import Merchant
from accounts.selectors import merchant_by_code
from accounts.services import merchant_create
from core.errors import InvalidRequest
from terminals.models import (
    TERMINAL_ID_PREFIX,
    HeartbeatLog,
    Terminal,
    TerminalKind,
    TerminalStatus,
)
from terminals.signals import heartbeat_received, terminal_registered

SECRET_BYTES = 32
MAX_DOORS = 64
_ID_ATTEMPTS = 5


def _secret_aad(terminal_id: str) -> str:
    return f"onecard:terminal:{terminal_id}"


def _next_terminal_id(kind: str) -> str:
    """The next free number of this kind: POS-0001, POS-0002 ... (gaps are not reused)."""
    prefix = TERMINAL_ID_PREFIX[kind]
    pattern = re.compile(rf"^{prefix}-(\d+)$")
    taken = Terminal.objects.filter(terminal_id__startswith=f"{prefix}-").values_list(
        "terminal_id", flat=True
    )
    numbers = [int(m.group(1)) for t in taken if (m := pattern.match(t))]
    return f"{prefix}-{max(numbers, default=0) + 1:04d}"


def _merchant_for(code: str, by: Any, channel: str) -> Merchant:
    merchant = merchant_by_code(code)
    if merchant is not None:
        return merchant
    return merchant_create(code=code, name=code, fee_rate_bp=0, by=by, channel=channel)


def _validate(kind: str, merchant_code: str | None, doors: int) -> int:
    if kind not in TerminalKind.values:
        raise InvalidRequest(
            _("kind must be one of %(kinds)s.") % {"kinds": ", ".join(TerminalKind.values)},
            field="kind",
        )
    if kind == TerminalKind.POS and not merchant_code:
        raise InvalidRequest(_("A POS terminal belongs to a merchant."), field="merchant")
    if kind == TerminalKind.DOOR:
        doors = doors or 1
        if not 1 <= doors <= MAX_DOORS:
            raise InvalidRequest(
                _("A door controller has 1 to %(n)d doors.") % {"n": MAX_DOORS}, field="doors"
            )
    elif doors:
        raise InvalidRequest(_("Only door controllers have doors."), field="doors")
    return doors


@transaction.atomic
def terminal_register(
    *, kind: str, name: str, by: Any, merchant_code: str | None = None, doors: int = 0,
    channel: str = "command",
) -> tuple[Terminal, str]:
    """Register a terminal; returns it and its secret as 64 hex characters, the only
    time the secret leaves the server in clear."""
    doors = _validate(kind, merchant_code, doors)
    kek = kek_get()  # before anything is written: no KEK, no terminal
    merchant = _merchant_for(merchant_code, by, channel) if merchant_code else None
    secret = secrets.token_bytes(SECRET_BYTES)
    for attempt in range(_ID_ATTEMPTS):
        terminal_id = _next_terminal_id(kind)
        try:
            with transaction.atomic():
                terminal = Terminal.objects.create(
                    terminal_id=terminal_id, kind=kind, name=name, merchant=merchant,
                    doors=doors, kek_id=crypto.kek_id(kek),
                    secret_wrapped=crypto.wrap_key(kek, secret, aad=_secret_aad(terminal_id)),
                )
            break
        except IntegrityError:  # another registration took this number meanwhile
            if attempt == _ID_ATTEMPTS - 1:
                raise
    audit_record(
        action="terminal.register", actor=by, subject=terminal, subject_id=terminal.terminal_id,
        after={"terminal_id": terminal.terminal_id, "kind": kind, "name": name,
               "merchant": merchant.code if merchant else None, "doors": doors},
        channel=channel,
    )
    terminal_registered.send(sender=Terminal, terminal=terminal)
    return terminal, secret.hex()


def terminal_secret(terminal: Terminal) -> bytes:
    """The terminal's clear secret, for checking its request signatures."""
    try:
        return crypto.unwrap_key(
            kek_get(), bytes(terminal.secret_wrapped), aad=_secret_aad(terminal.terminal_id)
        )
    except InvalidTag as exc:
        raise KeysUnavailable(_("The configured KEK does not open the terminal secrets.")) from exc


HEARTBEAT_INTS = ("blacklist_version", "access_list_version", "config_version", "last_seq",
                  "queued_records")


def terminal_heartbeat(*, terminal: Terminal, report: dict[str, Any]) -> Terminal:
    """Record what the terminal says of itself: when it last spoke, which list versions
    it has applied (reconciliation judges blacklisted purchases by it), its queue and
    faults."""
    for name in HEARTBEAT_INTS:
        value = report.get(name, 0)
        if type(value) is not int or not 0 <= value <= 2**53:
            raise InvalidRequest(_("%(f)s must be a whole number.") % {"f": name}, field=name)
    faults = report.get("faults", [])
    if not isinstance(faults, list) or not all(
        isinstance(f, dict) and isinstance(f.get("code"), str) for f in faults
    ):
        raise InvalidRequest(_('faults must be a list of {"code", "message"}.'), field="faults")
    now = timezone.now()
    previous_faults = list(terminal.faults or [])  # what the heartbeat before this one said
    with transaction.atomic():
        _heartbeat_store(terminal, report, faults, now)
        heartbeat_received.send(sender=Terminal, terminal=terminal, report=report, at=now,
                                previous_faults=previous_faults)
    terminal.refresh_from_db()
    return terminal


def _heartbeat_store(terminal: Terminal, report: dict[str, Any], faults: list[Any],
                     now: Any) -> None:
    Terminal.objects.filter(pk=terminal.pk).update(
        last_seen=now,
        blacklist_version=report.get("blacklist_version", 0),
        access_list_version=report.get("access_list_version", 0),
        reported_last_seq=report.get("last_seq", 0),
        queued_records=report.get("queued_records", 0),
        faults=[{"code": f["code"][:64], "message": str(f.get("message", ""))[:255]}
                for f in faults[:32]],
    )
    HeartbeatLog.objects.create(terminal=terminal, at=now,
                                blacklist_version=report.get("blacklist_version", 0),
                                access_list_version=report.get("access_list_version", 0))


TOUCH_EVERY_S = 30


def terminal_touch(terminal: Terminal) -> None:
    """Any authenticated request shows the terminal is alive; written at most every
    30 s, so list polling does not cost a write (and a WAL flush) each time."""
    now = timezone.now()
    if terminal.last_seen and (now - terminal.last_seen).total_seconds() < TOUCH_EVERY_S:
        return
    Terminal.objects.filter(pk=terminal.pk).update(last_seen=now)


def _set_status(*, terminal: Terminal, status: str, by: Any, reason: str, action: str,
                channel: str) -> Terminal:
    with transaction.atomic():
        locked = Terminal.objects.select_for_update(no_key=True).get(pk=terminal.pk)
        before = locked.status
        locked.status = status
        locked.save(update_fields=["status"])
        audit_record(action=f"terminal.{action}", actor=by, subject=locked,
                     subject_id=locked.terminal_id, before={"status": before},
                     after={"status": status, "reason": reason}, channel=channel)
    return locked


def terminal_disable(*, terminal: Terminal, by: Any, reason: str = "",
                     channel: str = "api") -> Terminal:
    """A disabled terminal's requests get 403 terminal_disabled from now on."""
    return _set_status(terminal=terminal, status=TerminalStatus.DISABLED, by=by, reason=reason,
                       action="disable", channel=channel)


def terminal_enable(*, terminal: Terminal, by: Any, reason: str = "",
                    channel: str = "api") -> Terminal:
    return _set_status(terminal=terminal, status=TerminalStatus.ACTIVE, by=by, reason=reason,
                       action="enable", channel=channel)


@transaction.atomic
def terminal_rotate_secret(*, terminal: Terminal, by: Any, channel: str = "api") -> str:
    """A new secret, handed out once; the old one stops working at once."""
    kek = kek_get()
    locked = Terminal.objects.select_for_update(no_key=True).get(pk=terminal.pk)
    secret = secrets.token_bytes(SECRET_BYTES)
    locked.secret_wrapped = crypto.wrap_key(kek, secret, aad=_secret_aad(locked.terminal_id))
    locked.kek_id = crypto.kek_id(kek)
    locked.save(update_fields=["secret_wrapped", "kek_id"])
    audit_record(action="terminal.rotate_secret", actor=by, subject=locked,
                 subject_id=locked.terminal_id, channel=channel)
    return secret.hex()


POS_MODES = ("free", "menu", "fixed")


def _validate_params(kind: str, params: dict[str, Any]) -> None:
    if kind != TerminalKind.POS:
        return
    mode = params.get("mode", "free")
    if mode not in POS_MODES:
        raise InvalidRequest(_("mode must be free, menu or fixed."), field="mode")
    for name in ("max_amount", "fixed_amount"):
        value = params.get(name)
        if value is not None and (type(value) is not int or not 0 < value <= 1_000_000):
            raise InvalidRequest(_("%(f)s must be a whole number of fen.") % {"f": name},
                                 field=name)
    if mode == "fixed" and "fixed_amount" not in params:
        raise InvalidRequest(_("A fixed-amount POS needs fixed_amount."), field="fixed_amount")
    menu = params.get("menu", [])
    if not isinstance(menu, list) or not all(
        isinstance(i, dict) and type(i.get("amount")) is int and i["amount"] > 0 for i in menu
    ):
        raise InvalidRequest(_("menu is a list of {key, name, amount}."), field="menu")
    if "collect_loads" in params and not isinstance(params["collect_loads"], bool):
        raise InvalidRequest(_("collect_loads is true or false."), field="collect_loads")


@transaction.atomic
def terminal_config_update(*, terminal: Terminal, params: dict[str, Any], by: Any,
                           channel: str = "api") -> Terminal:
    """Merge new parameters; `config_version` grows by one so terminals fetch them."""
    locked = Terminal.objects.select_for_update(no_key=True).get(pk=terminal.pk)
    merged = {**(locked.params or {}), **params}
    _validate_params(locked.kind, merged)
    before = locked.params
    locked.params = merged
    locked.config_version += 1
    locked.save(update_fields=["params", "config_version"])
    audit_record(action="terminal.config", actor=by, subject=locked, subject_id=locked.terminal_id,
                 before={"params": before}, after={"params": merged,
                                                    "config_version": locked.config_version},
                 channel=channel)
    return locked
