from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Kernel")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from core.db import backend_nice_set

        connection_created.connect(backend_nice_set, dispatch_uid="core.backend_nice")
