"""Drop the records' single-column terminal and card indexes: the unique (terminal,
terminal_seq) and the (card, card_seq) indexes lead with those columns. Only the
indexes are dropped (Django's AlterField would drop and re-add, and so re-validate,
both foreign keys over every stored record)."""

import django.db.models.deletion
from django.db import migrations, models

CARD_INDEX = "terminals_terminalrecord_card_id_0d238b52"
TERMINAL_INDEX = "terminals_terminalrecord_terminal_id_32f5793c"


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0008_posting_checks_per_statement"),
        ("terminals", "0005_terminalrecord_record_punch_card_ts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="terminalrecord",
                    name="card",
                    field=models.ForeignKey(
                        blank=True, db_index=False, null=True,
                        on_delete=django.db.models.deletion.PROTECT, related_name="+",
                        to="accounts.card", verbose_name="card"),
                ),
                migrations.AlterField(
                    model_name="terminalrecord",
                    name="terminal",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT,
                        related_name="records", to="terminals.terminal",
                        verbose_name="terminal"),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {CARD_INDEX}",
                    f"CREATE INDEX {CARD_INDEX} ON terminals_terminalrecord (card_id)"),
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {TERMINAL_INDEX}",
                    f"CREATE INDEX {TERMINAL_INDEX} ON terminals_terminalrecord (terminal_id)"),
            ],
        ),
    ]
