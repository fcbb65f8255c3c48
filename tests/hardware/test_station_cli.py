"""The station as the clerk starts it, `python -m terminals.station`, in a process of
its own: usage errors exit 2, and a desk whose smart-card service is down says so (the
PC/SC client library is pointed at a socket where no pcscd listens)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.hardware


def station(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "terminals.station", *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


@pytest.mark.parametrize(("lang", "text"), [
    ("en", "The smart-card service (pcscd) is not running"),
    ("zh-hans", "智能卡服务（pcscd）未运行"),
])
def test_a_desk_without_pcscd_is_told_so(tmp_path, lang, text):
    done = station("--lang", lang, "readers", PCSCLITE_CSOCK_NAME=str(tmp_path / "none"))

    assert done.returncode == 1, done.stderr
    assert text in done.stderr and "Traceback" not in done.stderr


def test_commands_that_need_the_server_refuse_to_start_without_it():
    done = station("issue", "--cardholder", "S1", ONECARD_SERVER="", ONECARD_TOKEN="")

    assert done.returncode == 2
    assert "--server and --token" in done.stderr
