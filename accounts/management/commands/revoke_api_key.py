from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.models import ApiKey


class Command(BaseCommand):
    help = "Revoke an API key for good, by its visible prefix (rs_xxxxxxxx)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix", help="The key's prefix, or the whole key: only the prefix is read.")

    def handle(self, *args: Any, **options: Any) -> None:
        prefix = options["prefix"].partition(".")[0]
        try:
            key = ApiKey.objects.select_related("institution").get(prefix=prefix)
        except ApiKey.DoesNotExist:
            raise CommandError(f"No API key has the prefix {prefix}.") from None
        services.revoke_api_key(key)
        self.stdout.write(f"Revoked {key.prefix} ({key.name}) of {key.institution.code} at {key.revoked_at}.")
