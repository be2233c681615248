import secrets
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.choices import Role
from accounts.models import Institution


class Command(BaseCommand):
    help = (
        "Create a person of an institution. The password is read from standard input with "
        "--password-stdin, or generated and printed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--institution", required=True, help="The institution's code.")
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--role", action="append", default=[], choices=Role.values, dest="roles", help="A role; repeat for several."
        )
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument(
            "--password-stdin", action="store_true", help="Read the password from the first line of standard input."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            institution = Institution.objects.get(code=options["institution"].upper())
        except Institution.DoesNotExist:
            raise CommandError(f"No institution has the code {options['institution']}.") from None
        generated = not options["password_stdin"]
        password = secrets.token_urlsafe(18) if generated else sys.stdin.readline().rstrip("\n")
        try:
            user = services.create_user(
                institution=institution,
                username=options["username"],
                email=options["email"],
                roles=options["roles"],
                password=password,
                first_name=options["first_name"],
                last_name=options["last_name"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(
            f"Created {user.username} at {institution.code} with roles: {', '.join(user.roles) or 'none'}."
        )
        if generated:
            self.stdout.write(f"Password (shown once): {password}")
