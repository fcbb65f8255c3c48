# One open alarm per controller, door and kind, held by the database. Before the
# constraint only the heartbeat's row lock kept it; should an older database hold two
# open alarms of one occurrence, the later ones are closed first (acknowledged by no one,
# with a note), so the constraint can be added.
from django.db import migrations, models
from django.db.models.functions import Coalesce
from django.utils import timezone


def duplicates_close(apps, schema_editor):
    AccessAlarm = apps.get_model("access", "AccessAlarm")
    seen = set()
    for alarm in AccessAlarm.objects.filter(status="open").order_by("raised_at", "id"):
        key = (alarm.controller_id, alarm.door_number or 0, alarm.kind)
        if key in seen:
            AccessAlarm.objects.filter(pk=alarm.pk).update(
                status="acknowledged", acknowledged_at=timezone.now(),
                note="closed by migration 0004: a second open alarm of the same occurrence")
        seen.add(key)


class Migration(migrations.Migration):

    dependencies = [
        ("access", "0003_doors_of_registered_controllers"),
    ]

    operations = [
        migrations.RunPython(duplicates_close, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="accessalarm",
            constraint=models.UniqueConstraint(
                models.F("controller"), Coalesce("door_number", 0), models.F("kind"),
                condition=models.Q(status="open"), name="access_alarm_one_open"),
        ),
    ]
