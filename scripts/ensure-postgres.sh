#!/usr/bin/env bash
# Make sure the local PostgreSQL (127.0.0.1:5432) accepts connections; start it if not.
set -euo pipefail

HOST=127.0.0.1
PORT=5432
TIMEOUT=30

if pg_isready -q -h "$HOST" -p "$PORT"; then
    echo "PostgreSQL: running on $HOST:$PORT."
    exit 0
fi

version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$version" ]; then
    echo "error: PostgreSQL is not running on $HOST:$PORT and no cluster found in /etc/postgresql" >&2
    exit 1
fi

echo "PostgreSQL: not running; starting cluster $version/main."
pg_ctlcluster --skip-systemctl-redirect "$version" main start </dev/null || true

for _ in $(seq "$TIMEOUT"); do
    if pg_isready -q -h "$HOST" -p "$PORT"; then
        echo "PostgreSQL: running on $HOST:$PORT."
        exit 0
    fi
    sleep 1
done

echo "error: PostgreSQL did not become ready on $HOST:$PORT within ${TIMEOUT}s" >&2
exit 1
