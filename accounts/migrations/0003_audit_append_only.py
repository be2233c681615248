"""On PostgreSQL, the audit tables refuse UPDATE, DELETE and TRUNCATE, whoever asks.

The application's role should also hold INSERT and SELECT only (docs/operations.md);
the trigger stands even for a role that was granted more by mistake. Only a table
owner who drops or disables the trigger can get past it, and verify_audit then
detects whatever they changed.
"""

from django.db import migrations

TABLES = ("accounts_auditevent", "accounts_auditseal", "accounts_auditcheckpoint")

# TRUNCATE is refused too, unless the session says riskshare.allow_audit_truncate = on: the test
# suite's flush between tests does. The application's role has no TRUNCATE privilege at all.
FUNCTION = """
CREATE OR REPLACE FUNCTION riskshare_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('riskshare.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)  # its % are RAISE placeholders, not parameters
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION riskshare_audit_append_only()"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION riskshare_audit_append_only()"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS riskshare_audit_append_only()")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_audit_trail")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
