# Door controllers registered before the access app existed get their doors
# (<terminal_id>-1..N) and a list version row, as new registrations do.
from django.db import migrations


def doors_create(apps, schema_editor):
    Terminal = apps.get_model("terminals", "Terminal")
    Door = apps.get_model("access", "Door")
    ControllerListVersion = apps.get_model("access", "ControllerListVersion")
    for terminal in Terminal.objects.filter(kind="door").order_by("id"):
        Door.objects.bulk_create(
            [Door(id=f"{terminal.terminal_id}-{n}", controller=terminal, number=n,
                  name=f"{terminal.name} {n}") for n in range(1, terminal.doors + 1)],
            ignore_conflicts=True)
        ControllerListVersion.objects.get_or_create(controller=terminal)


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0002_controller_grants"),
        ("terminals", "0004_heartbeatlog_access_list_version"),
    ]

    operations = [migrations.RunPython(doors_create, migrations.RunPython.noop)]
