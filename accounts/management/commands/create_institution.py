from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.choices import InstitutionKind, Sector


class Command(BaseCommand):
    help = "Register an institution by its unified social credit code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--code", required=True, help="Unified social credit code (18 characters).")
        parser.add_argument("--name-zh", required=True)
        parser.add_argument("--name-en", required=True)
        parser.add_argument("--kind", required=True, choices=InstitutionKind.values)
        parser.add_argument("--sector", default="", choices=["", *Sector.values], help="members only")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            institution = services.create_institution(
                code=options["code"],
                name_zh=options["name_zh"],
                name_en=options["name_en"],
                kind=options["kind"],
                sector=options["sector"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(f"Created {institution.kind} {institution.code} (id {institution.pk}).")
