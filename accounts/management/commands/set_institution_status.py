from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.choices import InstitutionStatus
from accounts.models import Institution


class Command(BaseCommand):
    help = "Suspend or reactivate an institution. Suspension refuses its people and keys from their next request on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="The institution's unified social credit code.")
        parser.add_argument("status", choices=InstitutionStatus.values)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            institution = Institution.objects.get(code=options["code"].upper())
        except Institution.DoesNotExist:
            raise CommandError(f"No institution has the code {options['code']}.") from None
        institution = services.update_institution(institution, by=None, status=options["status"])
        self.stdout.write(f"{institution.code} is now {institution.status}.")
