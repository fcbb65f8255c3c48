#!/usr/bin/env bash
# The test of the build: clone this repository's HEAD into an empty temporary folder, with
# nothing beside it (no ../shared), and run there the checks that would notice anything
# the project reads from outside itself: the test vectors and the documentation's links.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-$PWD/.venv/bin/python}"

lonely="$(mktemp -d)"
trap 'rm -rf "$lonely"' EXIT
git clone --quiet --no-hardlinks "file://$PWD" "$lonely/onecard"
cd "$lonely/onecard"
test ! -e ../shared || { echo "check-lone-clone: $lonely is not empty" >&2; exit 1; }

echo "Lone clone at $lonely/onecard ($(git rev-parse --short HEAD)), nothing beside it:"
"$PYTHON" -m pytest -p no:cacheprovider -q \
    tests/test_vectors.py tests/test_docs.py \
    tests/terminals/client/test_protocol_vectors.py tests/accounts/test_crypto_vectors.py
