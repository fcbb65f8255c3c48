"""Registering the campus terminals: ids, secrets under the KEK, merchants."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from accounts import crypto
from accounts.errors import KeysUnavailable
from accounts.keys import kek_get
from accounts.models import AuditEvent, Merchant
from core.errors import InvalidRequest
from terminals.models import Terminal, TerminalKind, TerminalStatus
from terminals.selectors import terminal_get
from terminals.services import terminal_register, terminal_secret
from tests.factories import make_merchant


def register(*args: str) -> dict[str, str]:
    out = io.StringIO()
    call_command("register_terminal", *args, stdout=out, stderr=io.StringIO())
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, "exactly one JSON line"
    return json.loads(lines[0])


def test_register_terminal_prints_one_json_line_with_a_fresh_secret(db):
    answer = register("--kind", "pos", "--name", "Canteen 2, window 3", "--merchant", "C2")

    assert answer["terminal_id"] == "POS-0001"
    assert re.fullmatch(r"[0-9a-f]{64}", answer["secret"])
    terminal = terminal_get("POS-0001")
    assert (terminal.kind, terminal.name, terminal.status) == (
        TerminalKind.POS, "Canteen 2, window 3", TerminalStatus.ACTIVE)
    merchant = terminal.merchant
    assert merchant is not None
    assert (merchant.code, merchant.name, merchant.fee_rate_bp) == ("C2", "C2", 0)  # created


def test_the_secret_is_stored_only_wrapped_and_opens_to_the_same_bytes(db):
    answer = register("--kind", "kiosk", "--name", "Library kiosk")
    secret = bytes.fromhex(answer["secret"])

    terminal = Terminal.objects.get(terminal_id=answer["terminal_id"])
    assert secret not in bytes(terminal.secret_wrapped)
    assert terminal.kek_id == crypto.kek_id(kek_get())
    assert terminal_secret(terminal) == secret
    event = AuditEvent.objects.get(action="terminal.register")
    assert answer["secret"] not in json.dumps(event.after)


def test_a_secret_wrapped_for_one_terminal_does_not_open_as_another(db):
    first, _ = terminal_register(kind="kiosk", name="A", by=None)
    second, _ = terminal_register(kind="kiosk", name="B", by=None)
    second.secret_wrapped = first.secret_wrapped  # in memory only

    with pytest.raises(KeysUnavailable):
        terminal_secret(second)


def test_ids_count_up_per_kind(db):
    merchant = make_merchant(code="C1")
    ids = [
        terminal_register(kind=kind, name=kind, by=None, merchant_code=code)[0].terminal_id
        for kind, code in [("pos", merchant.code), ("pos", "C1"), ("door", None),
                           ("attendance", None), ("kiosk", None), ("issuer", None),
                           ("door", None)]
    ]

    assert ids == ["POS-0001", "POS-0002", "DOOR-0001", "ATT-0001", "KIOSK-0001", "ISS-0001",
                   "DOOR-0002"]
    assert Merchant.objects.filter(code="C1").count() == 1


def test_a_pos_terminal_needs_a_merchant(db):
    with pytest.raises(InvalidRequest):
        terminal_register(kind="pos", name="Shop till", by=None)
    with pytest.raises(CommandError, match="merchant"):
        register("--kind", "pos", "--name", "Shop till")
    assert not Terminal.objects.exists()


def test_the_database_itself_refuses_a_pos_without_a_merchant(db, on_postgres):
    with pytest.raises(IntegrityError), transaction.atomic():
        Terminal.objects.create(terminal_id="POS-9999", kind="pos", name="x",
                                secret_wrapped=b"x", kek_id="x")


def test_a_door_controller_has_its_doors(db):
    answer = register("--kind", "door", "--name", "Lab building", "--doors", "2")

    assert terminal_get(answer["terminal_id"]).doors == 2
    default, _ = terminal_register(kind="door", name="Side gate", by=None)
    assert default.doors == 1
    with pytest.raises(InvalidRequest):
        terminal_register(kind="kiosk", name="Kiosk", by=None, doors=2)


def test_without_a_kek_registering_fails_with_exit_2_and_leaves_nothing(db, settings):
    settings.ONECARD_KEK = ""
    settings.ONECARD_KEK_FILE = ""
    err = io.StringIO()

    with pytest.raises(SystemExit) as exited:
        call_command("register_terminal", "--kind", "pos", "--name", "Till", "--merchant", "NEW",
                     stdout=io.StringIO(), stderr=err)

    assert exited.value.code == 2
    assert "KEK" in err.getvalue()
    assert not Terminal.objects.exists()
    assert not Merchant.objects.filter(code="NEW").exists()
    with pytest.raises(KeysUnavailable):
        terminal_register(kind="kiosk", name="Kiosk", by=None)
