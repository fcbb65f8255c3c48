"""What a web worker does once, before its first request: without it, the first
request a fresh gunicorn worker serves imports the URLconf and every view behind it
(openpyxl among them), compiles the URL patterns and loads the translation catalogues:
about 330 ms of CPU on the bench machine, paid by a clerk's top-up or a till's sale.
Then the objects made so far are frozen out of the garbage collector's sight: they
live as long as the worker, and a full collection that walks them all stalled a live
sale for 74 ms under load (`make bench`)."""

from __future__ import annotations

import gc

from django.conf import settings
from django.urls import get_resolver
from django.utils import translation


def warm_up() -> None:
    """Import, compile and load what requests need, then freeze the survivors."""
    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 - imports the URLconf and every view module
    resolver._populate()  # compiles every pattern (Django does it on the first resolve)
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Kernel")  # loads that language's catalogues
    gc.collect()
    gc.freeze()
