from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = _("Door access control")

    def ready(self) -> None:
        # The apps below offer hooks; access listens (it never is imported by them).
        from access import receivers, selectors
        from access.tasks import schedule_housekeeping
        from accounts.signals import card_status_changed, cardholder_changed, org_unit_changed
        from terminals.hooks import access_list_version_source
        from terminals.signals import heartbeat_received, records_accepted, terminal_registered

        card_status_changed.connect(receivers.on_card_status_changed,
                                    dispatch_uid="access.card_status_changed")
        cardholder_changed.connect(receivers.on_cardholder_changed,
                                   dispatch_uid="access.cardholder_changed")
        org_unit_changed.connect(receivers.on_org_unit_changed,
                                 dispatch_uid="access.org_unit_changed")
        terminal_registered.connect(receivers.on_terminal_registered,
                                    dispatch_uid="access.terminal_registered")
        records_accepted.connect(receivers.on_records_accepted,
                                 dispatch_uid="access.records_accepted")
        heartbeat_received.connect(receivers.on_heartbeat_received,
                                   dispatch_uid="access.heartbeat_received")
        access_list_version_source.register(selectors.list_version)
        post_migrate.connect(schedule_housekeeping, sender=self)
