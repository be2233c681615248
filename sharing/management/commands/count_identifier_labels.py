"""``manage.py count_identifier_labels``: how many labels stored before the rule already hold an identifier.

Labels have been refused when they are, or hold, a resident identity number, a mobile number or
an individual business's credit code (memberkit.labels) only since the rule came in; this counts,
per institution and kind of label, those stored before it, so that operators know whom to ask to
correct them. It prints counts only, never a label, and reads each table in chunks through a
server-side cursor, in constant memory on tables of millions of rows.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Model, QuerySet

from accounts.models import ApiKey, AuditEvent, Institution
from memberkit.labels import holds_identifier
from sharing.models import Flag, Inspection, InspectionHit, Upload

CHUNK = 5000
Kind = tuple[str, type[Model], str, str]  # name, model, the institution's column, the label's column
KINDS: tuple[Kind, ...] = (
    ("flag references", Flag, "institution_id", "reference"),
    ("withdrawal reasons", Flag, "institution_id", "withdrawal_reason"),
    ("upload file names", Upload, "institution_id", "file_name"),
    ("inspection portfolios", Inspection, "institution_id", "portfolio"),
    ("inspection consent references", Inspection, "institution_id", "consent_reference"),
    ("inspection file names", Inspection, "institution_id", "file_name"),
    # One hit per subject and category: a correlation id flagged in two categories counts twice.
    ("inspection hits' correlation ids", InspectionHit, "inspection__institution_id", "correlation_id"),
    ("audit consent references", AuditEvent, "institution_id", "consent_reference"),
    ("API key names", ApiKey, "institution_id", "name"),
)


def labels_of(kind: Kind, institution: int | None = None) -> Iterator[tuple[int, str]]:
    """(institution id, label) of every stored label of ``kind`` that is not empty, in chunks."""
    _name, model, owner, column = kind
    rows: QuerySet[Any, Any] = model._default_manager.exclude(**{f"{column}__isnull": True}).exclude(**{column: ""})
    if institution is not None:
        rows = rows.filter(**{owner: institution})
    return rows.values_list(owner, column).iterator(chunk_size=CHUNK)


def count(kinds: Iterable[Kind], institution: int | None = None) -> tuple[dict[str, Counter[int]], Counter[str]]:
    """Per kind, how many labels of each institution hold an identifier; and how many labels of each kind were read."""
    found: dict[str, Counter[int]] = {}
    read: Counter[str] = Counter()
    for kind in kinds:
        holding: Counter[int] = Counter()
        for owner, label in labels_of(kind, institution):
            read[kind[0]] += 1
            if holds_identifier(label):
                holding[owner] += 1
        found[kind[0]] = holding
    return found, read


class Command(BaseCommand):
    help = (
        "Count, per institution, the stored labels (flag references, correlation ids, consent references, "
        "portfolio, file and key names) that are or hold a resident identity number, a mobile number or an "
        "individual business's credit code. Prints counts only, never a label (docs/identifiers.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--institution", help="Only this institution (its unified social credit code).")

    def handle(self, *args: Any, **options: Any) -> None:
        institution = None
        if options["institution"]:
            code = options["institution"].strip().upper()
            institution = Institution.objects.filter(code=code).values_list("pk", flat=True).first()
            if institution is None:
                raise CommandError(f"No institution has the code {code}.")
        found, read = count(KINDS, institution)
        codes = dict(Institution.objects.values_list("pk", "code"))
        total = 0
        for name, holding in found.items():
            for owner, number in sorted(holding.items(), key=lambda item: codes.get(item[0], "")):
                self.stdout.write(f"{codes.get(owner, owner)}  {name}: {number:,}")
                total += number
        checked = sum(read.values())
        self.stdout.write(f"{total:,} of {checked:,} stored labels hold an identifier.")
