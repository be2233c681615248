"""Stamp the categories that institutions contributed before reciprocity existed.

Without these stamps every member with flags stored before 0002 would be refused
as not reciprocal until it contributed again.
"""

from django.db import migrations
from django.db.models import Max


def backfill(apps, schema_editor):  # type: ignore[no-untyped-def]
    Flag = apps.get_model("sharing", "Flag")
    ContributedCategory = apps.get_model("sharing", "ContributedCategory")
    latest = (
        Flag.objects.filter(status__in=["active", "resolved"])
        .values("institution_id", "category")
        .annotate(last=Max("updated_at"))
        .order_by()
    )
    ContributedCategory.objects.bulk_create(
        [
            ContributedCategory(
                institution_id=row["institution_id"], category=row["category"], last_contributed_at=row["last"]
            )
            for row in latest
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("sharing", "0003_inspections")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
