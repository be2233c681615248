"""Idempotency keys are kept only as their SHA-256 (sharing.idempotency): hash the ones stored in clear."""

import hashlib

from django.db import migrations


def hash_keys(apps, schema_editor):
    IdempotentRequest = apps.get_model("sharing", "IdempotentRequest")
    for stored in IdempotentRequest.objects.only("pk", "key").iterator(chunk_size=1000):
        IdempotentRequest.objects.filter(pk=stored.pk).update(key=hashlib.sha256(stored.key.encode()).hexdigest())


class Migration(migrations.Migration):
    dependencies = [
        ("sharing", "0009_worker_heartbeat"),
    ]

    # Not reversible: a hash does not give the key back. The keys live for a day; rolling back
    # only makes a retry within that day act again instead of being replayed.
    operations = [migrations.RunPython(hash_keys, migrations.RunPython.noop)]
