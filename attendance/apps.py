from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AttendanceConfig(AppConfig):
    name = "attendance"
    verbose_name = _("Attendance")

    def ready(self) -> None:
        # terminals offers the hook; attendance listens (terminals never imports it).
        from attendance import receivers
        from attendance.tasks import schedule_nightly
        from core.calendar import holiday_changed
        from terminals.signals import records_accepted

        records_accepted.connect(receivers.on_records_accepted,
                                 dispatch_uid="attendance.records_accepted")
        holiday_changed.connect(receivers.on_holiday_changed,
                                dispatch_uid="attendance.holiday_changed")
        post_migrate.connect(schedule_nightly, sender=self)
