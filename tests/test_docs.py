"""The documentation stands on its own: README.md and docs/ link only to files inside
the repository, never to the shared spec beside it, and the protocol reference is
complete. Plain file checks: no database, no Django."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PROTOCOL_DOCUMENTS = {
    "README.md",
    "terminal-protocol.md",
    "card-profile.md",
    "serial-bus.md",
    "operations-api.md",
}

# [text](target) and ![alt](target), with an optional <...> around the target and an
# optional "title" after it.
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# [label]: target (reference-style definitions)
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
FENCED_CODE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
EXTERNAL = ("http:", "https:", "mailto:")


def link_targets(markdown: str) -> list[str]:
    """The relative link targets of a markdown text, without their #fragment; links in
    code, external links and pure #anchors are left out."""
    text = INLINE_CODE.sub("", FENCED_CODE.sub("", markdown))
    targets = []
    for target in INLINE_LINK.findall(text) + REFERENCE_LINK.findall(text):
        if target.lower().startswith(EXTERNAL) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return targets


def doc_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_link_finder_finds_relative_links_only() -> None:
    sample = (
        'See [the card](card-profile.md#keys), ![bus](img/bus.png "the bus") and\n'
        "[up](<../README.md>); not [web](https://example.edu/x.md), [mail](mailto:a@b),\n"
        "[here](#top), `[code](nothing.md)` or\n```\n[fenced](nothing.md)\n```\n"
        "[ref]: docs/ARCHITECTURE.md\n"
    )
    assert link_targets(sample) == [
        "card-profile.md",
        "img/bus.png",
        "../README.md",
        "docs/ARCHITECTURE.md",
    ]


def test_there_are_documents_to_check() -> None:
    assert (ROOT / "README.md") in DOCS
    assert len(DOCS) > 1, "no markdown files found under docs/"


@pytest.mark.parametrize("path", DOCS, ids=doc_id)
def test_relative_links_point_to_files_in_the_repository(path: Path) -> None:
    broken = []
    for target in link_targets(path.read_text(encoding="utf-8")):
        resolved = (path.parent / target).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(target)
    assert broken == [], f"{doc_id(path)} links to missing or outside files: {broken}"


@pytest.mark.parametrize("path", DOCS, ids=doc_id)
def test_no_reference_to_the_shared_spec(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [outside for outside in ("../shared", "shared/spec/") if outside in text]
    assert found == [], f"{doc_id(path)} points outside the repository: {found}"


def test_the_protocol_reference_is_complete() -> None:
    present = {p.name for p in (ROOT / "docs" / "protocol").glob("*.md")}
    missing = PROTOCOL_DOCUMENTS - present
    assert not missing, f"docs/protocol/ lacks {sorted(missing)}"
