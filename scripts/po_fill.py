"""Fill zh_Hans translations into locale/zh_Hans/LC_MESSAGES/django.po from a Python
file defining ZH = {msgid: msgstr}, or from another .po (a branch's catalog, when two
branches added strings); entries given lose their fuzzy mark. Prints the msgids still
untranslated or fuzzy. Usage: python scripts/po_fill.py ZH.py|OTHER.po"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PO = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(lines: str) -> str:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', lines)
    return "".join(parts).replace('\\"', '"').replace("\\\\", "\\")


def fill(zh: dict[str, str]) -> list[str]:
    blocks = PO.read_text(encoding="utf-8").split("\n\n")
    left = []
    for i, block in enumerate(blocks):
        m = re.search(r'^msgid ((?:".*"\n?)+)msgstr ((?:".*"\n?)+)', block + "\n", re.M)
        if not m:
            continue
        msgid = _text(m.group(1))
        fuzzy = "#, fuzzy" in block
        if msgid in zh:
            head = block[:m.start()]
            head = "\n".join(line for line in head.splitlines()
                             if not line.startswith("#|") and line != "#, fuzzy")
            head = re.sub(r"^#, fuzzy, ", "#, ", head, flags=re.M)
            body = f"msgid {m.group(1).rstrip()}\nmsgstr {_quote(zh[msgid])}"
            blocks[i] = (head + "\n" if head else "") + body
        elif msgid and (fuzzy or not _text(m.group(2))):
            left.append(msgid)
    PO.write_text("\n\n".join(blocks), encoding="utf-8")
    return left


def translations(po: Path) -> dict[str, str]:
    """The translated, not fuzzy, entries of another catalog (a branch's, when merging)."""
    found = {}
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        m = re.search(r'^msgid ((?:".*"\n?)+)msgstr ((?:".*"\n?)+)', block + "\n", re.M)
        if m and "#, fuzzy" not in block and _text(m.group(1)) and _text(m.group(2)):
            found[_text(m.group(1))] = _text(m.group(2))
    return found


if __name__ == "__main__":
    source = Path(sys.argv[1])
    if source.suffix == ".po":
        zh = translations(source)
    else:
        namespace: dict[str, dict[str, str]] = {}
        exec(source.read_text(encoding="utf-8"), namespace)
        zh = namespace["ZH"]
    for msgid in fill(zh):
        print(repr(msgid))
