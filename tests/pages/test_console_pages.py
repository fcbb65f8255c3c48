"""The pages a person opens, rendered by a real headless Chromium against a live server."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.django_db(transaction=True)


def rendered_dom(url: str, *, lang: str = "zh-CN", wait_ms: int = 8000) -> str:
    """The page's DOM after its scripts ran, as Chromium sees it."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                f"--lang={lang}", f"--accept-lang={lang}",
                f"--virtual-time-budget={wait_ms}", "--dump-dom", url,
            ],
            capture_output=True, text=True, timeout=90, check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_a_clerk_opens_the_console_login_page_in_chinese(live_server) -> None:
    dom = rendered_dom(f"{live_server.url}/admin/login/", lang="zh-CN")
    assert "OneCard" in dom
    assert "用户名" in dom and "密码" in dom


def test_an_integrator_opens_the_api_docs_without_internet(live_server) -> None:
    dom = rendered_dom(f"{live_server.url}/api/docs/", lang="en")
    # Swagger UI ran (served from this server, not a CDN) and listed the contract's paths.
    assert "swagger-ui" in dom
    assert "/api/v1/cards/{card_no}/top-up" in dom
    assert "/api/v1/cardholders" in dom
