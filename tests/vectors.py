"""The protocol's test vectors, as the project carries them (docs/protocol/vectors.json).

Terminal vendors build against the same numbers; the copy lives inside the repository so
a fresh clone tests itself with nothing beside it. tests/test_vectors.py checks it against
the contract's own file whenever that sits beside the checkout (../shared/spec).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
VECTORS_PATH = REPO_ROOT / "docs" / "protocol" / "vectors.json"
CONTRACT_VECTORS_PATH = REPO_ROOT.parent / "shared" / "spec" / "vectors.json"


@functools.cache
def vectors() -> dict[str, Any]:
    return json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
