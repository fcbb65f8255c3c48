"""OneCard speaks Chinese and English: the zh_Hans catalog is complete, its placeholders
match, the compiled .mo is the .po, and the API and the console answer in the language
the browser asks for (Chinese by default)."""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Card, CardStatus, StoredKey
from accounts.services import card_top_up
from tests.factories import StaffFactory, make_card

BASE_DIR = Path(django_settings.BASE_DIR)
LOCALE_DIR = BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_FILE = LOCALE_DIR / "django.po"
MO_FILE = LOCALE_DIR / "django.mo"
# What `makemessages` is run with (see the report / README): the same exclusions here.
MAKEMESSAGES_IGNORE = (".venv", "var", "tests", "bench")

CJK = re.compile(r"[\u4e00-\u9fff]")
# printf-style placeholders as Python's % operator reads them: %(name)s, %d, %%.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
# Real browsers send regional tags; Django maps zh-CN to zh-hans.
BROWSER_ZH = "zh-CN,zh;q=0.9,en;q=0.8"


# --- A tiny .po reader (enough for what makemessages writes) -------------------------------


@dataclass
class PoEntry:
    msgid: str
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstrs: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)


def _unquote(text: str) -> str:
    body = text.strip()
    assert body.startswith('"') and body.endswith('"'), body
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), body[1:-1])


def read_po(path: Path) -> list[PoEntry]:
    """The active entries of a .po file (obsolete `#~` entries are skipped), header first."""
    entries: list[PoEntry] = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith("#~")]
        if not any(line.startswith("msgid ") for line in lines):
            continue
        fields: dict[str, str] = {}
        flags: set[str] = set()
        current = ""
        for line in lines:
            if line.startswith("#,"):
                flags |= {f.strip() for f in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                fields[current] += _unquote(line)
            else:
                current, _space, rest = line.partition(" ")
                fields[current] = _unquote(rest)
        entries.append(PoEntry(
            msgid=fields["msgid"], msgctxt=fields.get("msgctxt"),
            msgid_plural=fields.get("msgid_plural"),
            msgstrs=[v for k, v in sorted(fields.items()) if k.startswith("msgstr")],
            flags=flags,
        ))
    return entries


def placeholders(text: str) -> list[str]:
    return sorted(p for p in PLACEHOLDER.findall(text) if p != "%%")


@pytest.fixture(scope="module")
def catalog() -> list[PoEntry]:
    assert PO_FILE.exists(), f"{PO_FILE} is missing: run makemessages -l zh_Hans"
    entries = read_po(PO_FILE)
    assert entries and entries[0].msgid == "", "the .po file has no header entry"
    return entries


def msgfmt() -> str:
    path = shutil.which("msgfmt")
    assert path, "msgfmt not found: install gettext (scripts/install-system-deps.sh does)"
    return path


# --- The catalog ------------------------------------------------------------------------------


def test_every_message_has_a_chinese_translation(catalog: list[PoEntry]) -> None:
    messages = catalog[1:]
    untranslated = [e.msgid for e in messages if not all(s.strip() for s in e.msgstrs)]
    fuzzy = [e.msgid for e in catalog if "fuzzy" in e.flags]

    assert len(messages) > 100
    assert untranslated == []
    assert fuzzy == []


def test_msgfmt_counts_no_untranslated_or_fuzzy_message() -> None:
    result = subprocess.run(
        [msgfmt(), "--check", "--statistics", "-o", "/dev/null", str(PO_FILE)],
        capture_output=True, text=True, check=False,
        env={**os.environ, "LC_ALL": "C", "LANGUAGE": ""},
    )

    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"\d+ translated messages?\.\n", result.stderr), result.stderr


def test_the_header_names_the_language_and_its_plural_rule(catalog: list[PoEntry]) -> None:
    header = dict(
        line.split(": ", 1) for line in catalog[0].msgstrs[0].splitlines() if ": " in line
    )

    assert header["Language"] == "zh_Hans"
    assert header["Plural-Forms"] == "nplurals=1; plural=0;"
    assert header["Content-Type"] == "text/plain; charset=UTF-8"


def test_translations_keep_the_placeholders_of_the_english(catalog: list[PoEntry]) -> None:
    mismatched = [
        (e.msgid, s) for e in catalog[1:] for s in e.msgstrs
        if placeholders(s) != placeholders(e.msgid_plural or e.msgid)
        and placeholders(s) != placeholders(e.msgid)
    ]
    python_format = [e.msgid for e in catalog[1:] if placeholders(e.msgid)]

    assert mismatched == []
    assert python_format, "expected some python-format messages, e.g. Card %(card_no)s"


def test_the_translations_read_as_chinese(catalog: list[PoEntry]) -> None:
    # Codes, file types and the like may stay Latin; prose must not stay English.
    not_chinese = [e.msgid for e in catalog[1:]
                   if any(not CJK.search(s) for s in e.msgstrs) and " " in e.msgid]

    assert not_chinese == []


def test_the_compiled_mo_is_the_po(tmp_path: Path) -> None:
    """The .mo is committed: it must be what compilemessages makes of the .po today."""
    fresh = tmp_path / "django.mo"
    subprocess.run([msgfmt(), "--check-format", "-o", str(fresh), str(PO_FILE)], check=True)

    with MO_FILE.open("rb") as committed, fresh.open("rb") as compiled:
        committed_catalog = gettext.GNUTranslations(committed)._catalog  # type: ignore[attr-defined]
        compiled_catalog = gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]

    assert committed_catalog == compiled_catalog, (
        "locale/zh_Hans/LC_MESSAGES/django.mo is stale: run "
        "`manage.py compilemessages --ignore=.venv`"
    )


def test_the_catalog_covers_every_translatable_string_in_the_code(tmp_path: Path) -> None:
    """makemessages over a copy of the code finds exactly the catalog's messages: a string
    newly wrapped in gettext and not yet translated (or one removed) fails here."""
    copy = tmp_path / "onecard"
    shutil.copytree(BASE_DIR, copy, ignore=shutil.ignore_patterns(
        *MAKEMESSAGES_IGNORE, ".git", ".*cache", ".hypothesis", "__pycache__", "*.mo",
    ))
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans",
         *(f"--ignore={pattern}" for pattern in MAKEMESSAGES_IGNORE)],
        cwd=copy, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr

    in_code = {e.key for e in read_po(copy / "locale/zh_Hans/LC_MESSAGES/django.po")[1:]}
    in_catalog = {e.key for e in read_po(PO_FILE)[1:]}

    assert sorted(in_code - in_catalog, key=str) == [], "wrapped but not in the catalog"
    assert sorted(in_catalog - in_code, key=str) == [], "in the catalog but gone from the code"


def test_django_loads_the_catalog_for_zh_hans() -> None:
    with translation.override("zh-hans"):
        assert translation.gettext("Report loss") == "挂失"
        assert str(CardStatus.LOST.label) == "已挂失"
        assert translation.pgettext("person", "name") == "姓名"
    with translation.override("en"):
        assert translation.gettext("Report loss") == "Report loss"


# --- The API answers in the caller's language ------------------------------------------------


@pytest.fixture
def desk(db: Any) -> APIClient:
    """The card office counter with its API token."""
    token, _created = Token.objects.get_or_create(user=StaffFactory(role="card_office"))
    client = APIClient()
    client.default_format = "json"
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def active_card(db: Any) -> Card:
    return make_card(deposit=2000)


def test_unlocking_an_active_card_is_refused_in_chinese(desk: APIClient,
                                                        active_card: Card) -> None:
    response = desk.post(f"/api/v1/cards/{active_card.card_no}/unlock", {},
                         HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_status"
    assert CJK.search(error["message"]), error["message"]
    assert active_card.card_no in error["message"]
    assert "正常" in error["message"]  # the status, in Chinese too
    assert response["Content-Language"] == "zh-hans"


def test_a_chinese_browser_gets_chinese_errors(desk: APIClient, active_card: Card) -> None:
    response = desk.post(f"/api/v1/cards/{active_card.card_no}/unlock", {},
                         HTTP_ACCEPT_LANGUAGE=BROWSER_ZH)

    assert response.status_code == 409
    assert CJK.search(response.json()["error"]["message"])


def test_unlocking_an_active_card_is_refused_in_english(desk: APIClient,
                                                        active_card: Card) -> None:
    response = desk.post(f"/api/v1/cards/{active_card.card_no}/unlock", {},
                         HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_status"
    assert not CJK.search(error["message"]), error["message"]
    assert error["message"].startswith(f"Card {active_card.card_no} is Active")
    assert response["Content-Language"] == "en"


def test_validation_errors_come_in_chinese_too(desk: APIClient, active_card: Card) -> None:
    """Ours (a fraction is not an amount) and DRF's own (a missing field)."""
    response = desk.post(f"/api/v1/cards/{active_card.card_no}/top-up", {"amount": 1.5},
                         HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "须为整数" in str(error["fields"]["amount"])
    assert CJK.search(str(error["fields"]["method"]))  # "该字段是必填项。"


def test_the_card_stays_active_whatever_the_language(desk: APIClient,
                                                     active_card: Card) -> None:
    for language in ("zh-hans", "en"):
        desk.post(f"/api/v1/cards/{active_card.card_no}/unlock", {},
                  HTTP_ACCEPT_LANGUAGE=language)

    active_card.refresh_from_db()
    assert active_card.status == CardStatus.ACTIVE


# --- The console -------------------------------------------------------------------------------


def test_chinese_is_the_configured_default_language() -> None:
    from onecard import settings as project_settings

    assert project_settings.LANGUAGE_CODE == "zh-hans"
    assert ("zh-hans", "简体中文") in project_settings.LANGUAGES
    assert Path(project_settings.LOCALE_PATHS[0]) == BASE_DIR / "locale"


def test_the_admin_login_page_is_chinese_for_a_chinese_browser(db: Any) -> None:
    zh = Client().get("/admin/login/", HTTP_ACCEPT_LANGUAGE=BROWSER_ZH)
    en = Client().get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en")

    assert zh.status_code == en.status_code == 200
    assert "登录" in zh.content.decode() and "Log in" not in zh.content.decode()
    assert "Log in" in en.content.decode() and "登录" not in en.content.decode()


def test_the_admin_login_page_is_chinese_when_the_browser_says_nothing(db: Any,
                                                                       settings: Any) -> None:
    settings.LANGUAGE_CODE = "zh-hans"  # the project's default (tests/conftest.py sets en)

    page = Client().get("/admin/login/").content.decode()

    assert "登录" in page and "Log in" not in page


def test_a_card_page_in_the_console_speaks_chinese(db: Any, active_card: Card) -> None:
    clerk: Any = StaffFactory(username="clerk-zh", is_staff=True, is_superuser=True)
    console = Client()
    console.force_login(clerk)

    index = console.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    page = console.get(f"/admin/accounts/card/{active_card.pk}/change/",
                       HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "卡务管理控制台" in index and "持卡人" in index and "终端" in index
    for label in ("挂失", "冻结", "充值", "补卡", "销户退款", "主钱包", "补助钱包", "正常"):
        assert label in page, label
    assert "Report loss" not in page


@pytest.fixture
def console(db: Any) -> Client:
    """A clerk logged in to the console (a superuser: every page and action)."""
    clerk: Any = StaffFactory(username="clerk-console", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(clerk)
    return client


def test_a_posting_shows_its_kind_in_the_readers_language_beside_the_english_memo(
    console: Client, active_card: Card
) -> None:
    clerk: Any = StaffFactory(role="card_office")
    load = card_top_up(card=active_card, amount=5000, method="cash", reference="R-77", by=clerk)
    assert load.posting is not None

    zh = console.get("/admin/accounts/posting/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    en = console.get("/admin/accounts/posting/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    posting = console.get(f"/admin/accounts/posting/{load.posting.pk}/change/",
                          HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "充值" in zh and "发卡押金" in zh  # the top-up and the deposit taken at issue
    assert "Top-up (cash) R-77" in zh  # the memo stays as it was written
    assert "Deposit on issue" in en and "发卡押金" not in en
    assert "充值" in posting and "记账分录" in posting
    assert "持卡人主钱包" in posting and "¥50.00" in posting  # the entry's account and amount


def test_ledger_accounts_show_their_kind_in_the_readers_language_not_the_stored_name(
    console: Client, active_card: Card
) -> None:
    # The purses were created while the tests speak English: their stored names are English.
    purse_code = f"purse_main:{active_card.cardholder.number}"

    page = console.get("/admin/accounts/ledgeraccount/", {"q": active_card.cardholder.number},
                       HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert purse_code in page and "持卡人主钱包" in page
    assert "Holder main purse" not in page


def test_the_bulk_freeze_counts_the_cards_in_good_english_and_chinese(
    console: Client, db: Any
) -> None:
    def freeze(cards: list[Card], language: str) -> list[str]:
        response = console.post(
            "/admin/accounts/card/",
            {"action": "freeze_selected", "_selected_action": [c.pk for c in cards],
             "apply": "yes", "reason": "audit"},
            HTTP_ACCEPT_LANGUAGE=language,
        )
        return [str(m) for m in get_messages(response.wsgi_request)]

    assert "1 card frozen." in freeze([make_card()], "en")
    assert "2 cards frozen." in freeze([make_card(), make_card()], "en")
    assert "已冻结 2 张卡。" in freeze([make_card(), make_card()], "zh-hans")


def test_every_field_and_record_of_the_accounts_app_is_named_in_chinese() -> None:
    unnamed = []
    with translation.override("zh-hans"):
        for model in apps.get_app_config("accounts").get_models():
            names = [model._meta.verbose_name, model._meta.verbose_name_plural]
            names += [f.verbose_name for f in model._meta.concrete_fields if not f.auto_created]
            unnamed += [f"{model.__name__}: {n}" for n in names if not CJK.search(str(n))]

    assert unnamed == []


def test_records_read_well_in_the_console_and_a_key_never_shows_its_bytes(
    purse_key: Any, active_card: Card
) -> None:
    key = StoredKey.objects.get()
    event = AuditEvent.objects.filter(action="card.issue").get()
    entry = active_card.postings.get().entries.order_by("-amount").first()
    assert entry is not None

    assert str(key) == "purse v1"
    assert bytes(key.wrapped).hex() not in str(key)
    assert "card.issue" in str(event) and active_card.card_no in str(event)
    assert str(entry).endswith("deposits_held +2000")  # the deposit, credit-positive
