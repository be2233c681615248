"""An inspection's multi-lender figures: computed per part, stored per subject, and marked new when they jump.

The figures are ``sharing.matching.lending``'s, the one definition that queries use too: on PostgreSQL
its statement runs over the part's staging table of (row, correlation id, token), elsewhere its ORM
form over the part's probes. A subject gets an ``InspectionLending`` row only when one of its figures
is not zero, in the part's own transaction, as its hits do. When the job finishes, a subject's row is
**new** when a figure rose by at least the threshold the member set for it (``lending_thresholds``)
since the portfolio's previous inspection (docs/matching.md).
"""

import operator
from collections.abc import Iterable, Sequence
from functools import reduce
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from memberkit.vocabulary import LENDING_FIGURES, LENDING_THRESHOLD_FIGURES
from sharing.matching import lending
from sharing.models import Inspection, InspectionLending

Probe = tuple[int, str, bytes]  # row, correlation id, platform token: what sharing.matching.inspections stages
FiguresRow = tuple[Any, ...]  # row, then the figures in LENDING_FIGURES order
# Why an inspection has no figures: its member had reported no loans within MATCH_RECIPROCITY_DAYS when it was accepted.
NO_LOAN_CONTRIBUTIONS = "no_loan_contributions"
COLUMNS = ("inspection_id", "row", "correlation_id", *LENDING_FIGURES, "new")
_TABLE = InspectionLending._meta.db_table


def set_wise(inspection: Inspection, staging: str) -> list[FiguresRow]:
    """The figures of the part's subjects with one not zero, from ``staging``, filled with the part's probes."""
    with connection.cursor() as cursor:
        cursor.execute(lending.figures_sql(staging), lending.params(inspection.institution_id, timezone.localdate()))
        return list(cursor.fetchall())


def portable(inspection: Inspection, probes: Sequence[Probe]) -> list[FiguresRow]:
    """The same figures as ``set_wise``, through the ORM (``lending.portable``): for SQLite, and as the reference."""
    found = lending.portable(
        inspection.institution_id, timezone.localdate(), [(row, token) for row, _correlation_id, token in probes]
    )
    return [(row, *(figures[name] for name in LENDING_FIGURES)) for row, figures in sorted(found.items())]


def store(inspection: Inspection, figures: Iterable[FiguresRow], correlation_ids: dict[int, str]) -> None:
    """One row per subject with figures, named by its correlation id; COPY on PostgreSQL."""
    rows = ((inspection.pk, row, correlation_ids[row], *values, False) for row, *values in figures)
    if connection.vendor != "postgresql":
        InspectionLending.objects.bulk_create(
            [InspectionLending(**dict(zip(COLUMNS, values, strict=True))) for values in rows], batch_size=1000
        )
        return
    with connection.cursor() as cursor, cursor.copy(f"COPY {_TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for values in rows:
            copy.write_row(values)


def elsewhere(figures: QuerySet[InspectionLending]) -> QuerySet[InspectionLending]:
    """The subjects with a figure of other institutions' lending not zero (``lending_count``); the others have
    only the member's own queries or loans, which every borrower of its portfolio may well have."""
    return figures.filter(reduce(operator.or_, (Q(**{f"{name}__gt": 0}) for name in LENDING_THRESHOLD_FIGURES)))


def mark_risen(inspection: Inspection, previous: Inspection) -> None:
    """Mark new the subjects of ``inspection`` whose figure rose by at least its threshold since ``previous``.

    A subject is followed by its correlation id, as hits are; a subject that ``previous`` has no row for
    had every figure at 0 (a row is kept only when one is not zero), and of several rows of one
    correlation id the highest figure counts. An inspection that had no figures at all (its member had
    reported no loans) is no base: nothing is new by its figures.
    """
    thresholds = {name: at for name, at in inspection.lending_thresholds.items() if name in LENDING_THRESHOLD_FIGURES}
    if not thresholds or previous.lending_note:
        return
    earlier = ", ".join(f"max({name}) AS {name}" for name in thresholds)
    rose = " OR ".join(f"c.{name} - COALESCE(p.{name}, 0) >= %s" for name in thresholds)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_TABLE} SET new = %s WHERE id IN (SELECT c.id FROM {_TABLE} c"  # noqa: S608 - names from a constant
            f" LEFT JOIN (SELECT correlation_id, {earlier} FROM {_TABLE} WHERE inspection_id = %s"
            " GROUP BY correlation_id) p ON p.correlation_id = c.correlation_id"
            f" WHERE c.inspection_id = %s AND ({rose}))",
            [True, previous.pk, inspection.pk, *thresholds.values()],
        )
