from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts import services
from accounts.choices import Scope
from accounts.models import Institution


class Command(BaseCommand):
    help = "Issue an API key for an institution's systems and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--institution", required=True, help="The institution's code.")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--scope",
            action="append",
            required=True,
            choices=Scope.values,
            dest="scopes",
            help="A scope; repeat for several.",
        )
        parser.add_argument(
            "--allow-network",
            action="append",
            default=[],
            dest="networks",
            help="An address or CIDR network the key may be used from; repeat for several.",
        )
        parser.add_argument("--expires-in-days", type=int, help="Days until the key expires; none by default.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            institution = Institution.objects.get(code=options["institution"].upper())
        except Institution.DoesNotExist:
            raise CommandError(f"No institution has the code {options['institution']}.") from None
        days = options["expires_in_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        try:
            key, secret = services.issue_api_key(
                institution=institution,
                name=options["name"],
                scopes=options["scopes"],
                allowed_networks=options["networks"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stderr.write(f"Issued {key.prefix} for {institution.code}; the key is shown once, store it now:")
        self.stdout.write(secret)
