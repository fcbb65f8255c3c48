"""`gateway.toml`: the server, the durable queue and the readers on the bus.

```toml
[server]
url = "https://onecard.example.edu"

[queue]
path = "gateway-queue.sqlite3"        # relative to this file

[gateway]                             # optional; the defaults shown
reply_timeout_ms = 100                # serial-bus.md §1, plus the frame's own time
status_interval = 30                  # seconds between STATUS requests to a reader
heartbeat_interval = 60               # seconds between a reader's heartbeats
blacklist_interval = 60               # seconds between blacklist fetches
time_interval = 3600                  # SET TIME to every reader this often
upload_interval = 1                   # seconds an idle upload thread waits

[[reader]]
address = 3
terminal_id = "POS-0007"
secret = "64 hex characters from register_terminal"
```

A bad file raises `ConfigError` with a message code of `messages.py`, so the command
can say what is wrong in either language (and exit 2).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from terminals.client.i18n import MessageError

MAX_READERS = 32
ADDRESSES = range(1, 248)
TERMINAL_ID = re.compile(r"^[A-Za-z0-9-]{1,32}$")
SECRET = re.compile(r"^[0-9a-fA-F]{64}$")
URL = re.compile(r"^https?://[^\s/]+")


class ConfigError(MessageError):
    """`code` names a message of `messages.py`; `values` fill its placeholders."""


@dataclass(frozen=True)
class ReaderConfig:
    address: int
    terminal_id: str
    secret: str


@dataclass(frozen=True)
class Timings:
    reply_timeout_ms: float = 100
    status_interval: float = 30
    heartbeat_interval: float = 60
    blacklist_interval: float = 60
    time_interval: float = 3600
    upload_interval: float = 1


@dataclass(frozen=True)
class GatewayConfig:
    server_url: str
    queue_path: Path
    readers: list[ReaderConfig]
    timings: Timings = field(default_factory=Timings)
    server_timeout: float = 10


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    table = data.get(name)
    if not isinstance(table, dict):
        raise ConfigError("config_missing", key=f"[{name}]")
    return table


def _reader(entry: Any, index: int) -> ReaderConfig:
    if not isinstance(entry, dict):
        raise ConfigError("config_reader_table", n=index)
    address, terminal_id, secret = (entry.get(k) for k in ("address", "terminal_id", "secret"))
    if type(address) is not int or address not in ADDRESSES:
        raise ConfigError("config_reader_address", n=index, value=address)
    if not isinstance(terminal_id, str) or not TERMINAL_ID.match(terminal_id):
        raise ConfigError("config_reader_terminal_id", n=index, value=terminal_id)
    if not isinstance(secret, str) or not SECRET.match(secret):
        raise ConfigError("config_reader_secret", n=index, terminal_id=terminal_id)
    return ReaderConfig(address, terminal_id, secret.lower())


def _timings(data: dict[str, Any]) -> Timings:
    table = data.get("gateway", {})
    if not isinstance(table, dict):
        raise ConfigError("config_missing", key="[gateway]")
    known = set(Timings.__dataclass_fields__)
    for key, value in table.items():
        if key not in known:
            raise ConfigError("config_unknown_key", key=f"gateway.{key}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError("config_positive", key=f"gateway.{key}", value=value)
    return Timings(**table)


def parse(data: dict[str, Any], *, base: Path) -> GatewayConfig:
    url = _table(data, "server").get("url")
    if not isinstance(url, str) or not URL.match(url):
        raise ConfigError("config_server_url", value=url)
    path = _table(data, "queue").get("path")
    if not isinstance(path, str) or not path:
        raise ConfigError("config_missing", key="queue.path")
    entries = data.get("reader")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("config_no_readers")
    if len(entries) > MAX_READERS:
        raise ConfigError("config_too_many_readers", n=len(entries), max=MAX_READERS)
    readers = [_reader(entry, i + 1) for i, entry in enumerate(entries)]
    for attr in ("address", "terminal_id"):
        values = [getattr(r, attr) for r in readers]
        repeated = sorted({v for v in values if values.count(v) > 1}, key=str)
        if repeated:
            raise ConfigError("config_duplicate", key=attr, value=repeated[0])
    timeout = _table(data, "server").get("timeout", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError("config_positive", key="server.timeout", value=timeout)
    return GatewayConfig(server_url=url.rstrip("/"), queue_path=base / path, readers=readers,
                         timings=_timings(data), server_timeout=float(timeout))


def load(path: str | Path) -> GatewayConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("config_unreadable", path=str(path), error=exc.strerror or exc) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError("config_not_toml", path=str(path), error=str(exc)) from exc
    return parse(data, base=path.resolve().parent)
