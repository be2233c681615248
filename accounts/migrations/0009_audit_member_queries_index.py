"""The partial index of members' query events, built without stopping the audit trail's writes."""

from django.db import migrations, models


class AddIndexWithoutBlockingWrites(migrations.AddIndex):
    """On PostgreSQL, ``CREATE INDEX CONCURRENTLY``: every request writes an audit event, and a plain
    build would hold them all until the index is made. Elsewhere, the plain build."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.add_index(model, self.index, concurrently=True)
            else:
                schema_editor.add_index(model, self.index)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("accounts", "0008_institution_sector_and_report_actions"),
    ]

    operations = [
        AddIndexWithoutBlockingWrites(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("action", "match.query")),
                fields=["institution", "-id"],
                name="audit_member_queries",
            ),
        ),
    ]
