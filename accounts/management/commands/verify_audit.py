import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import sealing


class Command(BaseCommand):
    help = (
        "Recompute every audit event's digest and chain hash and check every checkpoint's Merkle root and "
        "signature. Exit 0 with a one-line summary when intact; otherwise exit 1 naming the first problem."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoint",
            type=Path,
            action="append",
            default=[],
            help="A signed checkpoint kept outside the database (JSON, as in an exported proof's 'checkpoint', "
            "or a whole proof); the trail must still hold it. Repeat for several.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        held = []
        for path in options["checkpoint"]:
            document = json.loads(path.read_text(encoding="utf-8"))
            held.append(document.get("checkpoint", document))
        result = sealing.verify_and_record(held)
        if not result.intact:
            raise CommandError(result.summary)
        self.stdout.write(result.summary)
