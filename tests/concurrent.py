"""Run callables at the same instant, each in its own thread with its own PostgreSQL
connection: the harness of every race test."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, connections

START_TIMEOUT = 30  # seconds for every thread to reach the start line
FINISH_TIMEOUT = 60  # seconds for all of them to finish once started
LOCK_TIMEOUT = "20s"  # a stuck lock wait becomes an error instead of a hung suite


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_at_once(tasks: dict[str, Callable[[], Any]]) -> dict[str, Outcome]:
    """Start every task at the same instant, each in its own thread with its own database
    connection; fail if any thread is still running after FINISH_TIMEOUT."""
    barrier = threading.Barrier(len(tasks))
    outcomes: dict[str, Outcome] = {}

    def worker(name: str, task: Callable[[], Any]) -> None:
        try:
            with connection.cursor() as cur:  # connect before the start line
                cur.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            barrier.wait(timeout=START_TIMEOUT)
            outcomes[name] = Outcome(value=task())
        except BaseException as exc:  # every error is an outcome to look at
            outcomes[name] = Outcome(error=exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=item, name=item[0], daemon=True)
               for item in tasks.items()]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + START_TIMEOUT + FINISH_TIMEOUT
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    hung = [t.name for t in threads if t.is_alive()]
    assert not hung, f"threads still running (deadlock or lost wake-up): {hung}"
    assert set(outcomes) == set(tasks)
    return outcomes
