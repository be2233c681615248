from typing import Any

from django.db import transaction

from accounts import demo, services
from accounts.management.demo import DemoCommand
from accounts.models import ApiKey, Institution, User


class Command(DemoCommand):
    writes = "creates accounts with known credentials"
    help = (
        "Create the demo cast (two members, a regulator, the operator, a person for every role, API keys) "
        "and print its sign-ins. Safe to run again; refused in production."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        password = demo.demo_password()
        keys: list[tuple[str, str, str]] = []
        with transaction.atomic():
            for cast in demo.CAST:
                institution = Institution.objects.filter(code=cast.code).first() or services.create_institution(
                    code=cast.code, name_zh=cast.name_zh, name_en=cast.name_en, kind=cast.kind, sector=cast.sector
                )
                for username, roles in cast.people:
                    person = User.objects.filter(username=username).first()
                    if person is None:
                        services.create_user(
                            institution=institution,
                            username=username,
                            email=demo.demo_email(username),
                            roles=list(roles),
                            password=password,
                        )
                    elif not person.check_password(password):
                        # SECRET_KEY changed since the last run: the printed password must still work.
                        services.set_password(person, password)
                        person.save(update_fields=["password"])
                if cast.key_scopes:
                    prefix, secret = demo.demo_key_material(cast.code)
                    if not ApiKey.objects.filter(prefix=prefix).exists():
                        # A new SECRET_KEY derives a new key; the old demo key is revoked, not left working.
                        for stale in ApiKey.objects.filter(institution=institution, name=demo.KEY_NAME):
                            services.revoke_api_key(stale)
                        services.issue_api_key(
                            institution=institution,
                            name=demo.KEY_NAME,
                            scopes=list(cast.key_scopes),
                            material=(prefix, secret),
                        )
                    keys.append((cast.name_en, ", ".join(cast.key_scopes), secret))

        self.stdout.write("Demo sign-ins (every person has the same password):")
        for cast in demo.CAST:
            for username, roles in cast.people:
                self.stdout.write(f"  {username:<20} {', '.join(roles):<20} {cast.name_en}")
        self.stdout.write(f"  password: {password}")
        self.stdout.write("Demo API keys:")
        for name, scopes, secret in keys:
            self.stdout.write(f"  {name}: {secret}")
            self.stdout.write(f"    scopes: {scopes}")
