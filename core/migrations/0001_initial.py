# Takes over accounts' Idempotency-Key table (accounts 0007 dropped it from its state)
# and renames it; on a fresh database accounts 0001 made it a moment before.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0007_idempotent_request_moves_to_core"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="IdempotentRequest",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                                   serialize=False, verbose_name="ID")),
                        ("key", models.CharField(max_length=128, verbose_name="idempotency key")),
                        ("method", models.CharField(max_length=8, verbose_name="HTTP method")),
                        ("path", models.CharField(max_length=255, verbose_name="path")),
                        ("body_hash", models.CharField(max_length=64, verbose_name="body hash")),
                        ("status_code", models.PositiveSmallIntegerField(
                            null=True, verbose_name="status code")),
                        ("response", models.JSONField(null=True, verbose_name="response")),
                        ("created_at", models.DateTimeField(auto_now_add=True,
                                                           verbose_name="created at")),
                        ("user", models.ForeignKey(
                            on_delete=django.db.models.deletion.CASCADE, related_name="+",
                            to=settings.AUTH_USER_MODEL, verbose_name="user")),
                    ],
                    options={
                        "verbose_name": "idempotent request",
                        "verbose_name_plural": "idempotent requests",
                        "constraints": [models.UniqueConstraint(
                            fields=("user", "key"), name="idempotent_request_unique")],
                    },
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE accounts_idempotentrequest RENAME TO core_idempotentrequest",
                    "ALTER TABLE core_idempotentrequest RENAME TO accounts_idempotentrequest",
                ),
            ],
        ),
    ]
