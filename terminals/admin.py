"""The terminal registry in the console: a read-only list. Terminals are registered
with `manage.py register_terminal` (the secret is shown once, there); the secret is
never displayed here."""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from terminals.models import Terminal


@admin.register(Terminal)
class TerminalAdmin(ReadOnlyAdmin):
    list_display = ("terminal_id", "kind", "name", "merchant", "doors", "status",
                    "config_version", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("terminal_id", "name", "merchant__code", "merchant__name")
    fields = ("terminal_id", "kind", "name", "merchant", "doors", "status", "config_version",
              "params", "kek_id", "created_at")
    readonly_fields = fields
