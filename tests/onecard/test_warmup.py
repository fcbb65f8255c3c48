"""A gunicorn worker loads the WSGI application warm: the URLconf and every view
imported, the patterns compiled, the long-lived objects frozen out of the collector's
sight (onecard.warmup), so that the first clerk or till it serves does not wait."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys
before = set(sys.modules)
import onecard.wsgi
from django.urls import get_resolver
resolver = get_resolver()
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "views_imported": "settlement.api.counter" in sys.modules,
    "patterns_compiled": resolver._populated,
}))
"""


def test_the_wsgi_application_loads_with_its_views_imported_and_its_objects_frozen():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "onecard.settings", "DEBUG": "false",
           "ALLOWED_HOSTS": "127.0.0.1"}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=120)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded["views_imported"] is True
    assert loaded["patterns_compiled"] is True
    assert loaded["frozen"] > 10_000  # Django and the apps: tens of thousands of objects
