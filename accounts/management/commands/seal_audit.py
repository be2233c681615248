from typing import Any

from django.core.management.base import BaseCommand

from accounts import sealing


class Command(BaseCommand):
    help = "Seal the audit events that are ready now (beat does this every few minutes)."

    def handle(self, *args: Any, **options: Any) -> None:
        checkpoints = sealing.seal_pending()
        sealed = sum(checkpoint.last_seq - checkpoint.first_seq + 1 for checkpoint in checkpoints)
        self.stdout.write(f"sealed {sealed} events in {len(checkpoints)} new checkpoints")
