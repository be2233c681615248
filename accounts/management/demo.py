"""What every command that seeds the demo shares: it never runs in production."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class DemoCommand(BaseCommand):
    """A command that writes the demo's made-up data, refused in production before it reads its options."""

    writes = "writes made-up flags"  # what the refusal says the command does

    def execute(self, *args: Any, **options: Any) -> str | None:
        if settings.PRODUCTION:
            name = type(self).__module__.rsplit(".", 1)[-1]
            raise CommandError(f"{name} {self.writes}; it never runs in production.")
        return super().execute(*args, **options)
