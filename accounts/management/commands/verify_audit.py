from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts import sealing


class Command(BaseCommand):
    help = (
        "Recompute every audit event's digest and chain hash and check every checkpoint's Merkle root and "
        "signature. Exit 0 with a one-line summary when intact; otherwise exit 1 naming the first problem."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = sealing.verify_and_record()
        if not result.intact:
            raise CommandError(result.summary)
        self.stdout.write(result.summary)
