"""Reads of the terminal registry."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from onecard.errors import NotFound
from terminals.models import Terminal


def terminal_get(terminal_id: str) -> Terminal:
    terminal = Terminal.objects.select_related("merchant").filter(terminal_id=terminal_id).first()
    if terminal is None:
        raise NotFound(_("No terminal %(t)s.") % {"t": terminal_id})
    return terminal


def terminal_list(*, kind: str | None = None, status: str | None = None) -> QuerySet[Terminal]:
    qs = Terminal.objects.select_related("merchant").order_by("terminal_id")
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs
