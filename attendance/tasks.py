"""Jobs of the django-q2 cluster: the days marked pending are computed (queued after
each commit that marks some, and swept every minute in case a queued task was lost),
and every night yesterday's rostered days are marked, so an absence has its row too."""

from __future__ import annotations

from attendance import compute, services

PENDING = "onecard-attendance-pending-days"
NIGHTLY = "onecard-attendance-nightly"


def pending_days_compute() -> str:
    return f"computed={compute.pending_days_compute()}"


def attendance_nightly() -> str:
    marked = services.days_due_mark()
    return f"marked={marked} computed={compute.pending_days_compute()}"


def schedule_nightly(**_kwargs: object) -> None:
    """Make sure both jobs are scheduled (run after migrate)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=PENDING, defaults={"func": "attendance.tasks.pending_days_compute",
                                "schedule_type": Schedule.MINUTES, "minutes": 1,
                                "repeats": -1})
    Schedule.objects.update_or_create(
        name=NIGHTLY, defaults={"func": "attendance.tasks.attendance_nightly",
                                "schedule_type": Schedule.DAILY, "repeats": -1})
