"""The set-up commands an installer or a card office runs from a shell."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.keys import purse_master_key
from accounts.models import AuditEvent, Card, Cardholder, KeyPurpose, Merchant, StoredKey
from accounts.selectors import ledger_check
from core.roles import Role
from terminals.models import Terminal, TerminalRecord
from tests.conftest import VECTOR_MASTER_KEY

HEADER = ["number", "name", "kind", "department", "valid_until", "phone", "email"]



def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command as a shell runs it, for its real exit status."""
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=django_settings.BASE_DIR, text=True,
        capture_output=True, env={**os.environ, **env}, timeout=120, check=False,
    )


# --- issue_token ---------------------------------------------------------------------


def test_issue_token_prints_the_token_alone_and_the_same_one_each_time(db):
    first, _err = run("issue_token", "--user", "sis-sync", "--role", "card_office")
    second, _err = run("issue_token", "--user", "sis-sync", "--role", "card_office")

    user = get_user_model().objects.get(username="sis-sync")
    assert first == second == f"{Token.objects.get(user=user).key}\n"
    assert user.is_staff
    assert not user.has_usable_password()
    assert list(user.groups.values_list("name", flat=True)) == ["card_office"]


def test_issue_token_with_a_password_lets_the_user_log_in_to_the_console(db, client):
    run("issue_token", "--user", "clerk-zhao", "--role", "card_office", "--password", "pw-12345678")

    assert client.login(username="clerk-zhao", password="pw-12345678")
    assert client.get("/admin/accounts/cardholder/").status_code == 200


def test_issue_token_refuses_an_unknown_role_and_names_the_roles(db):
    with pytest.raises(CommandError, match="card_office, finance"):
        run("issue_token", "--user", "x", "--role", "janitor")
    assert not get_user_model().objects.filter(username="x").exists()


def test_issue_token_with_an_unknown_role_exits_non_zero_from_the_shell(tmp_path):
    result = manage("issue_token", "--user", "x", "--role", "janitor",
                    DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")

    assert result.returncode == 1
    assert result.stdout == ""
    assert "janitor" in result.stderr


def test_create_role_groups_is_idempotent_and_gives_the_console_permissions(db):
    run("create_role_groups")
    run("create_role_groups")

    assert sorted(Group.objects.values_list("name", flat=True)) == sorted(Role.values)
    clerks = Group.objects.get(name=Role.CARD_OFFICE)
    assert {"view_card", "change_card", "add_cardholder", "change_cardholder"} <= set(
        clerks.permissions.values_list("codename", flat=True))
    assert not Group.objects.get(name=Role.BANK).permissions.exists()


# --- import_key ----------------------------------------------------------------------


def test_import_key_without_a_kek_exits_2_and_stores_nothing(db, settings):
    settings.ONECARD_KEK = ""
    settings.ONECARD_KEK_FILE = ""
    err = io.StringIO()

    with pytest.raises(SystemExit) as exited:
        call_command("import_key", "--purpose", "purse", "--version", "1",
                     "--hex", VECTOR_MASTER_KEY, stdout=io.StringIO(), stderr=err)

    assert exited.value.code == 2
    assert "KEK" in err.getvalue()
    assert not StoredKey.objects.exists()


def test_import_key_without_a_kek_exits_2_from_the_shell(tmp_path):
    result = manage("import_key", "--purpose", "purse", "--version", "1",
                    "--hex", VECTOR_MASTER_KEY, ONECARD_KEK="", ONECARD_KEK_FILE="",
                    DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")

    assert result.returncode == 2
    assert result.stdout == ""
    assert "KEK" in result.stderr


def test_import_key_stores_the_key_wrapped_and_prints_nothing(db):
    out, err = run("import_key", "--purpose", "purse", "--version", "1",
                   "--hex", VECTOR_MASTER_KEY)

    assert (out, err) == ("", "")
    stored = StoredKey.objects.get(purpose=KeyPurpose.PURSE, version=1)
    assert bytes.fromhex(VECTOR_MASTER_KEY) not in bytes(stored.wrapped)
    assert purse_master_key(1) == bytes.fromhex(VECTOR_MASTER_KEY)
    assert AuditEvent.objects.filter(action="key.import", channel="command").count() == 1


def test_import_key_never_replaces_a_stored_version(db):
    run("import_key", "--purpose", "purse", "--version", "1", "--hex", VECTOR_MASTER_KEY)

    with pytest.raises(CommandError, match="already stored"):
        run("import_key", "--purpose", "purse", "--version", "1", "--hex", "ff" * 16)
    assert purse_master_key(1) == bytes.fromhex(VECTOR_MASTER_KEY)


@pytest.mark.parametrize("version, key_hex", [("1", "zz" * 16), ("1", "00" * 15), ("0", "00" * 16)])
def test_import_key_refuses_a_malformed_key_or_version(db, version, key_hex):
    with pytest.raises(CommandError):
        run("import_key", "--purpose", "purse", "--version", version, "--hex", key_hex)
    assert not StoredKey.objects.exists()


# --- import_cardholders --------------------------------------------------------------


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8-sig") -> Path:
    path.write_text("\n".join([",".join(HEADER), *lines]) + "\n", encoding=encoding)
    return path


def test_import_cardholders_from_csv_reports_progress_and_a_summary(db, tmp_path):
    path = write_csv(tmp_path / "students.csv", [
        "S2026101,张伟,student,CS,2030-07-01,,",
        "S2026102,李娜,student,CS,2030-07-01,,",
        "T101,王芳,staff,HR,,,wf@example.edu",
    ])

    out, err = run("import_cardholders", str(path))

    assert "created 3, updated 0, unchanged 0" in out
    assert "imported 3/3" in err
    assert Cardholder.objects.get(number="T101").email == "wf@example.edu"

    write_csv(path, ["S2026101,张伟,student,CS,2030-07-01,,", "S2026102,李娜,staff,CS,,,"])
    out, _err = run("import_cardholders", str(path))
    assert "created 0, updated 1, unchanged 1" in out


def test_import_cardholders_from_xlsx_reports_progress_every_hundred_rows(db, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["学号", "姓名", "类别", "院系"])
    for i in range(250):
        sheet.append([f"S9{i:05d}", f"学生{i}", "student", "MATH"])
    workbook.save(tmp_path / "students.xlsx")

    out, err = run("import_cardholders", str(tmp_path / "students.xlsx"))

    assert err.split() == ["imported", "100/250", "imported", "200/250", "imported", "250/250"]
    assert "created 250" in out
    assert Cardholder.objects.filter(org_unit__code="MATH").count() == 250


def test_import_cardholders_with_a_bad_row_changes_nothing_and_lists_the_lines(db, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [
        "S2026201,张伟,student,CS,,,",
        "S2026202,李娜,teacher,CS,,,",
        "S2026203,赵磊,student,CS,2030-13-45,,",
        "S2026201,张伟,student,CS,,,",
    ])
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_cardholders", str(path), stdout=io.StringIO(), stderr=err)

    assert "line 3: kind must be one of" in err.getvalue()
    assert "line 4: valid_until" in err.getvalue()
    assert "line 5: number S2026201 appears twice" in err.getvalue()
    assert not Cardholder.objects.exists()


def test_import_cardholders_dry_run_counts_but_saves_nothing(db, tmp_path):
    path = write_csv(tmp_path / "students.csv", ["S2026301,张伟,student,CS,,,"], "gb18030")

    out, _err = run("import_cardholders", str(path), "--dry-run")

    assert "would have created 1" in out
    assert not Cardholder.objects.exists()


def test_import_cardholders_refuses_an_unknown_file_type(db, tmp_path):
    (tmp_path / "list.pdf").write_bytes(b"%PDF")
    with pytest.raises(CommandError, match="csv"):
        run("import_cardholders", str(tmp_path / "list.pdf"))


# --- load_demo -----------------------------------------------------------------------


def test_load_demo_twice_gives_one_consistent_campus(db):
    first, _err = run("load_demo", "--simulate-seconds", "0")
    second, _err = run("load_demo", "--simulate-seconds", "0")

    assert Cardholder.objects.count() == 50
    assert Card.objects.count() == 50
    assert Merchant.objects.count() == 3
    assert Terminal.objects.filter(kind="pos").count() == 3
    assert Terminal.objects.get(kind="door").doors == 2
    assert purse_master_key(1) == bytes.fromhex(VECTOR_MASTER_KEY)
    assert ledger_check() == []
    assert "already loaded" in second
    for role in Role:
        token = Token.objects.get(user__username=role.value).key
        assert token in first and token in second
        assert f"onecard-{role.value}" in second
    assert "onecard-holder" in second and "http://127.0.0.1:8000/admin/" in second


def test_the_demo_has_a_month_of_attendance_for_hr(db):
    from attendance.models import DayResult
    from attendance.selectors import month_report

    run("load_demo", "--simulate-seconds", "0")

    staff = Cardholder.objects.filter(kind="staff").count()
    assert DayResult.objects.values("cardholder").distinct().count() == staff
    statuses = set(DayResult.objects.values_list("status", flat=True))
    assert {"normal", "late", "off"} <= statuses
    last_month = (timezone.localdate().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    assert month_report(last_month)["count"] == staff


def test_the_demo_logins_work(db, client):
    run("load_demo", "--simulate-seconds", "0")

    assert client.login(username="card_office", password="onecard-card_office")
    holder = Cardholder.objects.get(number="S2026001")
    assert holder.name == "张伟"
    assert holder.user is not None and holder.user.check_password("onecard-holder")
    assert client.get("/admin/accounts/card/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_demo_day_has_terminals_trading_over_http(settings):
    """load_demo runs the fleet simulator against this server on a real socket."""
    settings.ONECARD_KEK = "5f" * 32
    out, err = run("load_demo", "--simulate-seconds", "2")

    assert "records accepted, balances match" in out, out + err
    assert TerminalRecord.objects.filter(status="accepted").count() > 0
    assert ledger_check() == []
