"""The terminal registry in the console: a read-only list. Terminals are registered
with `manage.py register_terminal` (the secret is shown once, there); the secret is
never displayed here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from terminals.models import Terminal


@admin.register(Terminal)
class TerminalAdmin(admin.ModelAdmin):
    list_display = ("terminal_id", "kind", "name", "merchant", "doors", "status",
                    "config_version", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("terminal_id", "name", "merchant__code", "merchant__name")
    fields = ("terminal_id", "kind", "name", "merchant", "doors", "status", "config_version",
              "params", "kek_id", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
