from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sharing.flags import services
from sharing.keys.tokens import peppers


class Command(BaseCommand):
    help = (
        "Move every stored platform token (flags' and loans' identifiers, query records) on to the newest "
        "PLATFORM_PEPPER version by chaining. "
        "Run it after adding the new pepper and restarting; the platform keeps running (docs/identifiers.md)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        moved, left = services.rekey_tokens()
        version = peppers().version
        if left:
            raise CommandError(
                f"re-keyed {moved} tokens; {left} were busy and are still on an older pepper: run it again"
            )
        self.stdout.write(f"re-keyed {moved} tokens; every stored token is now under pepper version {version}")
