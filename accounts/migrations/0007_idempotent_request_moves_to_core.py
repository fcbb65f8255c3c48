# The Idempotency-Key store moved to the kernel app (core.IdempotentRequest). Only the
# model state leaves here; core's first migration takes the table over and renames it.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_cash_count_kind")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="IdempotentRequest")],
            database_operations=[],
        ),
    ]
