"""Append-only audit trail, written by each service inside its own transaction."""

from __future__ import annotations

from typing import Any

from django.db import models

from accounts.models import AuditEvent
from core.middleware import current_request_id


def audit_record(
    *,
    action: str,
    actor: Any,
    subject: models.Model | None = None,
    subject_type: str = "",
    subject_id: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    channel: str = "api",
) -> AuditEvent:
    if subject is not None:
        subject_type = subject_type or subject._meta.model_name or ""
        subject_id = subject_id or str(
            getattr(subject, "card_no", None) or getattr(subject, "number", None) or subject.pk
        )
    user = actor if getattr(actor, "pk", None) else None
    return AuditEvent.objects.create(
        actor=user,
        actor_label=actor.get_username() if user else str(actor or "system"),
        channel=channel,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        before=before,
        after=after,
        request_id=current_request_id(),
    )
