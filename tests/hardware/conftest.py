"""The real PC/SC stack for hardware tests: pcscd with the vsmartcard virtual reader
(Debian packages pcscd, vsmartcard-vpcd; installed by `make deps`) and our software
card behind it. pyscard then sees a reader with a card, as on a desk."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

VPCD_PORT = 35963


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def pcscd() -> Iterator[None]:
    """pcscd running with the vpcd driver (started here when not already running)."""
    started = None
    if not _port_open(VPCD_PORT):
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        started = subprocess.Popen([binary, "--foreground"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not _port_open(VPCD_PORT):
            assert started.poll() is None, "pcscd exited"
            assert time.monotonic() < deadline, "vpcd did not listen on 35963"
            time.sleep(0.1)
    yield
    if started is not None:
        started.terminate()
        started.wait(timeout=10)
