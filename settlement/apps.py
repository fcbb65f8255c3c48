from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class SettlementConfig(AppConfig):
    name = "settlement"
    verbose_name = _("Reconciliation and settlement")

    def ready(self) -> None:
        from settlement.tasks import schedule_nightly

        post_migrate.connect(schedule_nightly, sender=self)
