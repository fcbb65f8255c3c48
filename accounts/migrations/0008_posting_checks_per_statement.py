"""The postings' balance check, once per statement instead of once per entry.

Before, a deferred row trigger on `accounts_entry` summed the entry's whole posting for
every entry at commit: a posting of n entries cost n sums of n rows (quadratic), and a
batch of 500 purchases cost 1,000 trigger calls at commit. Now a statement trigger on
each of `accounts_entry` and `accounts_posting` notes the postings its statement
touched (one row of `accounts_posting_check` per statement, the ids in an array), and a
deferred constraint trigger on that table checks them at commit in one grouped query:
at least two entries, summing to zero (none at all: "has no entries"). The meaning is
unchanged: checked at commit (so entries may still be inserted one by one), at once
under `SET CONSTRAINTS ALL IMMEDIATE`, and raw SQL cannot get round it. The note rows
are deleted by the check that reads them.
"""

from django.db import migrations

FORWARD = r"""
DROP TRIGGER IF EXISTS onecard_entry_balanced ON accounts_entry;
DROP TRIGGER IF EXISTS onecard_posting_has_entries ON accounts_posting;
DROP FUNCTION IF EXISTS onecard_check_posting_balanced();
DROP FUNCTION IF EXISTS onecard_check_posting_has_entries();

CREATE TABLE accounts_posting_check (
    id bigserial PRIMARY KEY,
    posting_ids bigint[] NOT NULL
);

CREATE OR REPLACE FUNCTION onecard_note_entries() RETURNS trigger AS $$
BEGIN
    INSERT INTO accounts_posting_check (posting_ids)
    SELECT array_agg(DISTINCT posting_id) FROM new_rows HAVING count(*) > 0;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION onecard_note_postings() RETURNS trigger AS $$
BEGIN
    INSERT INTO accounts_posting_check (posting_ids)
    SELECT array_agg(id) FROM new_rows HAVING count(*) > 0;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER onecard_entries_noted AFTER INSERT ON accounts_entry
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION onecard_note_entries();
CREATE TRIGGER onecard_postings_noted AFTER INSERT ON accounts_posting
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION onecard_note_postings();

CREATE OR REPLACE FUNCTION onecard_check_postings() RETURNS trigger AS $$
DECLARE
    bad record;
    refused boolean;
BEGIN
    SELECT p.id, COALESCE(SUM(e.amount), 0) AS total, COUNT(e.id) AS n INTO bad
      FROM (SELECT DISTINCT unnest(NEW.posting_ids) AS id) p
      LEFT JOIN accounts_entry e ON e.posting_id = p.id
     GROUP BY p.id
    HAVING COUNT(e.id) < 2 OR COALESCE(SUM(e.amount), 0) <> 0
     LIMIT 1;
    refused := FOUND;
    DELETE FROM accounts_posting_check WHERE id = NEW.id;
    IF refused THEN
        IF bad.n = 0 THEN
            RAISE EXCEPTION 'posting % has no entries', bad.id
                USING ERRCODE = 'check_violation';
        END IF;
        RAISE EXCEPTION 'posting % is unbalanced: entries sum to % over % entries',
            bad.id, bad.total, bad.n USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER onecard_postings_balanced
    AFTER INSERT ON accounts_posting_check
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION onecard_check_postings();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS onecard_postings_balanced ON accounts_posting_check;
DROP TRIGGER IF EXISTS onecard_postings_noted ON accounts_posting;
DROP TRIGGER IF EXISTS onecard_entries_noted ON accounts_entry;
DROP FUNCTION IF EXISTS onecard_check_postings();
DROP FUNCTION IF EXISTS onecard_note_postings();
DROP FUNCTION IF EXISTS onecard_note_entries();
DROP TABLE IF EXISTS accounts_posting_check;

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
    dependencies = [("accounts", "0007_idempotent_request_moves_to_core")]
    operations = [migrations.RunPython(forward, backward)]
