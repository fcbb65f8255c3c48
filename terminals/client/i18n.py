"""Messages of the terminal-side programs (issuing station, serial gateway) in English
and Chinese. The client library has no Django, so it keeps its own small catalogue:
each message is a code with both texts, and `tests/terminals/client/test_i18n.py`
fails when a code lacks a language or the two texts name different placeholders.

The language is `--lang`, else `ONECARD_LANG`, else an `LC_ALL`/`LANG` locale starting
with `zh` or `en`, else Chinese, as the server's default.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping

EN = "en"
ZH = "zh-hans"
LANGUAGES = (EN, ZH)

# code -> {language: text with str.format placeholders}. Programs add their own
# catalogue with `register`; a code may be registered once.
CATALOGUE: dict[str, dict[str, str]] = {}


def register(messages: Mapping[str, Mapping[str, str]]) -> None:
    for code, texts in messages.items():
        if code in CATALOGUE:
            raise ValueError(f"message {code!r} registered twice")
        CATALOGUE[code] = dict(texts)


def language(explicit: str | None = None) -> str:
    """The language to speak: the explicit choice, else ONECARD_LANG, else a Chinese or
    English locale, else Chinese (the server's default, LANGUAGE_CODE=zh-hans)."""
    for value in (explicit, os.environ.get("ONECARD_LANG")):
        if value:
            return ZH if value.lower().replace("_", "-").startswith("zh") else EN
    for var in ("LC_ALL", "LANG"):
        locale = os.environ.get(var, "").lower()
        if locale.startswith("zh"):
            return ZH
        if locale.startswith("en"):
            return EN
    return ZH


def message(code: str, lang: str = EN, **values: object) -> str:
    """The text of `code` in `lang` (English when that language lacks it)."""
    texts = CATALOGUE[code]
    return (texts.get(lang) or texts[EN]).format(**values)


class MessageError(Exception):
    """A failure to tell a person: `code` names a message, `values` fill it in."""

    def __init__(self, code: str, **values: object) -> None:
        super().__init__(code, values)
        self.code, self.values = code, values

    def text(self, lang: str = EN) -> str:
        return message(self.code, lang, **self.values)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
