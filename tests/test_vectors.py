"""The project's copy of the protocol vectors never drifts from the contract's.

The repository carries docs/protocol/vectors.json so that a clone tests itself alone; when
the contract's file sits beside the checkout (../shared/spec/vectors.json, as on the
developers' machines and in CI), every vector in it must be in the copy, unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.vectors import CONTRACT_VECTORS_PATH, VECTORS_PATH, vectors

# What the project's tests rely on: each kind the contract publishes today.
KINDS = {"cmac_rfc4493", "card_keys", "tacs", "signatures", "profile2_load", "profile2_block"}


def missing_or_changed(contract: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """Every vector of `contract` absent from `ours` or different there, by its place."""
    problems: list[str] = []
    for kind, published in contract.items():
        if kind not in ours:
            problems.append(f"{kind}: missing")
        elif isinstance(published, list):
            problems += [f"{kind}[{i}]" for i, v in enumerate(published) if v not in ours[kind]]
        elif published != ours[kind]:
            problems.append(f"{kind}: differs")
    return problems


def test_the_repository_carries_every_kind_of_vector() -> None:
    assert VECTORS_PATH.is_file()
    assert set(vectors()) >= KINDS
    assert all(vectors()[kind] for kind in KINDS)


def test_the_drift_check_notices_a_changed_missing_or_extra_vector() -> None:
    contract = {"tacs": [{"tac": "aa"}, {"tac": "bb"}], "cmac": {"key": "00"}}
    assert missing_or_changed(contract, contract) == []
    assert missing_or_changed(contract, {"tacs": [{"tac": "aa"}], "cmac": {"key": "00"}}) == [
        "tacs[1]"]
    assert missing_or_changed(contract, {"tacs": contract["tacs"], "cmac": {"key": "01"}}) == [
        "cmac: differs"]
    assert missing_or_changed(contract, {"cmac": {"key": "00"}}) == ["tacs: missing"]


@pytest.mark.skipif(not CONTRACT_VECTORS_PATH.is_file(),
                    reason="no contract beside this checkout (a lone clone tests its own copy)")
def test_every_contract_vector_is_in_the_projects_copy_and_agrees() -> None:
    contract = json.loads(CONTRACT_VECTORS_PATH.read_text(encoding="utf-8"))
    assert missing_or_changed(contract, vectors()) == []
