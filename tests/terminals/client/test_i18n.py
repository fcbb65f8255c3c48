"""The desk programs speak Chinese and English: every message of the issuing station,
the serial gateway and the door controller's list has both texts, naming the same
placeholders, and the language follows --lang, then ONECARD_LANG, then the locale, else
Chinese."""

from __future__ import annotations

import re

import pytest

import terminals.client.access  # registers its texts
import terminals.serial_gateway.messages  # registers its texts
import terminals.station.messages  # noqa: F401  (registers its texts)
from terminals.client import i18n

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("code", sorted(i18n.CATALOGUE))
def test_every_message_has_both_languages_with_the_same_placeholders(code):
    texts = i18n.CATALOGUE[code]

    assert set(texts) == set(i18n.LANGUAGES), code
    assert texts[i18n.EN].strip() and texts[i18n.ZH].strip()
    assert i18n.placeholders(texts[i18n.EN]) == i18n.placeholders(texts[i18n.ZH]), code
    # Texts that are only a placeholder pattern (e.g. "{name}: {state}") need no Chinese.
    bare = re.sub(r"\{[^}]*\}", "", texts[i18n.ZH])
    assert CJK.search(texts[i18n.ZH]) or not re.search(r"[A-Za-z]", bare), code


def test_the_language_comes_from_the_flag_then_the_environment(monkeypatch):
    for var in ("ONECARD_LANG", "LC_ALL", "LANG"):
        monkeypatch.delenv(var, raising=False)
    assert i18n.language() == i18n.ZH, "Chinese unless told otherwise, as the server"
    monkeypatch.setenv("LANG", "en_GB.UTF-8")
    assert i18n.language() == i18n.EN
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert i18n.language() == i18n.ZH
    monkeypatch.setenv("ONECARD_LANG", "en")
    assert i18n.language() == i18n.EN
    assert i18n.language("zh-hans") == i18n.ZH
    assert i18n.message("no_reader", i18n.ZH) == "未连接读卡器。"


def test_a_code_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="twice"):
        i18n.register({"no_reader": {"en": "x", "zh-hans": "x"}})
