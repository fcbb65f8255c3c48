#!/usr/bin/env bash
# Install the Debian packages OneCard needs (idempotent, non-interactive).
#   pcscd, vsmartcard-vpcd  - PC/SC daemon and virtual smart-card reader (card tests)
#   libpcsclite-dev, swig   - needed to build pyscard from source
#   socat                   - virtual serial links for terminal tests
#   chromium, chromium-driver - browser tests
#   nginx-light             - the reverse proxy in front of the gunicorn pools (make bench;
#                             the README's production section); its own service is stopped
#   gettext                 - compilemessages
#   postgresql-client       - psql/pgbench, only if they are missing
#   postgresql-N-prioritize - for each local PostgreSQL server N: lets the bulk upload
#                             pool lower its backends' CPU priority (DB_BACKEND_NICE)
# Fast path: when everything is installed, only dpkg-query runs (no apt-get).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(pcscd vsmartcard-vpcd libpcsclite-dev swig socat chromium chromium-driver
          gettext build-essential nginx-light)

if ! command -v pgbench >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
    packages+=(postgresql-client)
fi

# The local PostgreSQL servers' major versions (the bench and the tests use the extension).
for dir in /usr/lib/postgresql/*/bin/postgres; do
    [ -e "$dir" ] || continue
    major="$(basename "$(dirname "$(dirname "$dir")")")"
    packages+=("postgresql-$major-prioritize")
done

# A Debian system python3 needs its venv and header packages (pyscard builds a C extension).
if [ "$(python3 -c 'import sys; print(sys.base_prefix)' 2>/dev/null)" = "/usr" ]; then
    packages+=(python3-venv python3-dev)
fi

missing=()
for pkg in "${packages[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [ "$status" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "System packages: all present."
    exit 0
fi

echo "System packages missing: ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo -n)
    else
        echo "error: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" </dev/null
# Debian starts nginx on port 80 when it is installed; the bench runs its own.
if printf '%s\n' "${missing[@]}" | grep -qx nginx-light; then
    "${SUDO[@]}" service nginx stop >/dev/null 2>&1 || "${SUDO[@]}" pkill -x nginx || true
fi
echo "System packages: installed ${missing[*]}."
