"""Ledger and audit invariants enforced by PostgreSQL itself (as django-hordak does),
so that raw SQL or a bug elsewhere cannot unbalance the books or rewrite history.

SQLite (the zero-set-up demo only) gets none of these; production and tests run on
PostgreSQL.
"""

from django.db import migrations

FORWARD = r"""
-- Each posting's entries sum to zero and there are at least two of them, checked at
-- commit so the entries of one posting can be inserted one by one.
CREATE OR REPLACE FUNCTION onecard_check_posting_balanced() RETURNS trigger AS $$
DECLARE
    pid bigint;
    total bigint;
    n integer;
BEGIN
    IF TG_OP = 'DELETE' THEN pid := OLD.posting_id; ELSE pid := NEW.posting_id; END IF;
    SELECT COALESCE(SUM(amount), 0), COUNT(*) INTO total, n
      FROM accounts_entry WHERE posting_id = pid;
    IF n > 0 AND (total <> 0 OR n < 2) THEN
        RAISE EXCEPTION 'posting % is unbalanced: entries sum to % over % entries', pid, total, n
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER onecard_entry_balanced
    AFTER INSERT OR UPDATE ON accounts_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION onecard_check_posting_balanced();

-- A posting with no entries at all is not a posting either.
CREATE OR REPLACE FUNCTION onecard_check_posting_has_entries() RETURNS trigger AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM accounts_entry WHERE posting_id = NEW.id) THEN
        RAISE EXCEPTION 'posting % has no entries', NEW.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER onecard_posting_has_entries
    AFTER INSERT ON accounts_posting
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION onecard_check_posting_has_entries();

-- Append-only tables: the ledger's entries and postings, and the audit trail.
CREATE OR REPLACE FUNCTION onecard_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER onecard_entry_append_only BEFORE UPDATE OR DELETE ON accounts_entry
    FOR EACH ROW EXECUTE FUNCTION onecard_refuse_change();
CREATE TRIGGER onecard_posting_append_only BEFORE UPDATE OR DELETE ON accounts_posting
    FOR EACH ROW EXECUTE FUNCTION onecard_refuse_change();
CREATE TRIGGER onecard_audit_append_only BEFORE UPDATE OR DELETE ON accounts_auditevent
    FOR EACH ROW EXECUTE FUNCTION onecard_refuse_change();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS onecard_audit_append_only ON accounts_auditevent;
DROP TRIGGER IF EXISTS onecard_posting_append_only ON accounts_posting;
DROP TRIGGER IF EXISTS onecard_entry_append_only ON accounts_entry;
DROP TRIGGER IF EXISTS onecard_posting_has_entries ON accounts_posting;
DROP TRIGGER IF EXISTS onecard_entry_balanced ON accounts_entry;
DROP FUNCTION IF EXISTS onecard_refuse_change();
DROP FUNCTION IF EXISTS onecard_check_posting_has_entries();
DROP FUNCTION IF EXISTS onecard_check_posting_balanced();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
