"""One app, one room: an app queries only its own tables; another app's rows come through
that app's selectors and services. Read from the source (no database): a model imported
from another app's `models` may be named (a type, a choice, a foreign key), but its
manager (`.objects`) is that app's business. The kernel's tables (`core`, e.g. the
holiday calendar every app shares) and the top floor (`onecard`, whole-house commands)
are open to all."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "accounts", "terminals", "settlement", "access", "attendance", "onecard")
OPEN_TO_ALL = {"core"}  # owners whose tables every app may read
UNCHECKED = {"onecard"}  # the top floor: may reach every room
MANAGERS = {"objects", "_default_manager", "_base_manager"}

# Reaches into another room written before this rule was checked, each to move behind
# the owner's selectors: (file, model). The list may only shrink.
KNOWN = {
    ("settlement/bank.py", "PendingLoad"),
    ("settlement/bank.py", "Cardholder"),
    ("settlement/settle.py", "Merchant"),
    ("settlement/settle.py", "TerminalRecord"),
    ("settlement/selectors.py", "Merchant"),
    ("settlement/reports.py", "Entry"),
    ("settlement/reports.py", "TerminalRecord"),
}


def reaches(path: Path, app: str) -> set[tuple[str, str, int]]:
    """(model, owner app, line) of each manager use on another app's model in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    foreign: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module.endswith(".models") or ".models." in node.module):
            owner = node.module.split(".")[0]
            if owner != app and owner in APPS and owner not in OPEN_TO_ALL:
                for alias in node.names:
                    foreign[alias.asname or alias.name] = owner
    return {(node.value.id, foreign[node.value.id], node.lineno)
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in MANAGERS
            and isinstance(node.value, ast.Name) and node.value.id in foreign}


def all_reaches() -> set[tuple[str, str, str, int]]:
    found = set()
    for app in APPS:
        if app in UNCHECKED:
            continue
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            rel = path.relative_to(ROOT).as_posix()
            found |= {(rel, model, owner, line) for model, owner, line in reaches(path, app)}
    return found


def test_no_app_queries_another_apps_tables() -> None:
    new = sorted(f"{rel}:{line}: {model}.objects belongs to {owner}"
                 for rel, model, owner, line in all_reaches() if (rel, model) not in KNOWN)

    assert new == [], "query it through the owner's selectors or services:\n" + "\n".join(new)


def test_access_reaches_no_other_room() -> None:
    # Issue 11: access reads cards and holders through accounts' selectors and door
    # records through terminals' selectors; it has no entry in KNOWN.
    assert not {k for k in KNOWN if k[0].startswith("access/")}
    assert not {r for r in all_reaches() if r[0].startswith("access/")}


def test_the_known_list_holds_only_what_is_still_there() -> None:
    # An entry fixed in the code must leave the list, so that it cannot come back.
    still = {(rel, model) for rel, model, _owner, _line in all_reaches()}

    assert KNOWN - still == set()


@pytest.mark.parametrize("source, expected", [
    ("from accounts.models import Card\nCard.objects.filter()\n", {("Card", "accounts", 2)}),
    ("from accounts.models import Card as C\nC._default_manager.all()\n",
     {("C", "accounts", 2)}),
    ("from accounts.models import Card\nx: Card\nCard.DoesNotExist\n", set()),
    ("from core.models import Holiday\nHoliday.objects.all()\n", set()),
    ("from access.models import Door\nDoor.objects.all()\n", set()),
])
def test_the_check_sees_a_reach(tmp_path: Path, source: str, expected: set[object]) -> None:
    path = tmp_path / "mod.py"
    path.write_text(source)

    assert reaches(path, "access") == expected
