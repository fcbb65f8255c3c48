"""Hooks the terminals app offers the apps above it, for answers it cannot compute
itself (terminals may not import access). The upper app registers its function from its
`AppConfig.ready()`; with nothing registered the answer is the protocol's default.

- `access_list_version_source(terminal) -> int`: the door controller's current
  access-list version (the access app), reported by the heartbeat and shown beside the
  version the controller has applied, so lagging controllers show.
"""

from __future__ import annotations

from collections.abc import Callable

from accounts.hooks import SingleHook
from terminals.models import Terminal

AccessListVersionSource = Callable[[Terminal], int]

access_list_version_source: SingleHook[AccessListVersionSource] = SingleHook(
    "terminals.hooks.access_list_version_source")


def access_list_version(terminal: Terminal) -> int:
    source = access_list_version_source.source
    return 0 if source is None else source(terminal)
