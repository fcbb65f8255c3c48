from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TerminalsConfig(AppConfig):
    name = "terminals"
    verbose_name = _("Terminals")

    def ready(self) -> None:
        from accounts.hooks import card_record_source
        from terminals.selectors import card_records

        card_record_source.register(card_records)
