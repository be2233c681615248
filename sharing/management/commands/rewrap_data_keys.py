from typing import Any

from django.core.management.base import BaseCommand

from accounts.audit import record
from accounts.choices import AuditAction
from sharing.keys import datakeys as keys


class Command(BaseCommand):
    help = (
        "Re-wrap every institution's data key under the newest DETAILS_MASTER_KEY version. "
        "Run it after adding the new key and restarting; the platform keeps running (docs/operations.md)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        done = keys.rewrap_data_keys()
        if done:
            record(AuditAction.DATA_KEY_REWRAP, subjects=done)
        version = keys.master_keys().version
        self.stdout.write(f"re-wrapped {done} data keys; every data key is now under master key version {version}")
