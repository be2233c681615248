"""Regulators' reports: the figures of a period, gathered in a few aggregate statements and
published as tables with small cells suppressed (docs/reports.md).

``gather`` reads the database: one pass over the flags, one over the period's query events,
one each over inspections and uploads. ``publish`` turns those counts into tables, decides
what to suppress (``sharing.reports.suppression``) and returns what may be shown, and nothing more:
a suppressed cell leaves this module as None. ``member_slice`` cuts the part about one member
out of a published report.
"""

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.choices import AuditAction, InstitutionKind, Sector
from accounts.models import AuditEvent, Institution
from sharing.choices import Category, FlagStatus, JobStatus, QueryPurpose
from sharing.models import Flag, Inspection, Upload
from sharing.reports.suppression import Line, suppress

ALL = "all"
UNSPECIFIED = "unspecified"  # the sector of a member that has none recorded
# How long after the event a flag was filed, in days: (label, most days or None for no bound).
DELAYS = (("0-30", 30), ("31-90", 90), ("91-180", 180), ("181-365", 365), ("366+", None))
FLAG_CHANGES = ("new", "resolved", "expired", "withdrawn")
NOTES = (
    "disputes: the platform records no disputes yet, so the report has no figures on them.",
    "suppressed: a cell counting 1 to 10 borrowers is suppressed, and so is any cell from which a "
    "suppressed one could be worked out (docs/reports.md). Suppressed values are null.",
)


@dataclass(frozen=True)
class Period:
    """Whole days in the platform's time zone, both ends included."""

    starts_on: date
    ends_on: date

    @classmethod
    def month_before(cls, today: date) -> "Period":
        last = today.replace(day=1) - timedelta(days=1)
        return cls(last.replace(day=1), last)

    def bounds(self) -> tuple[datetime, datetime]:
        """The first instant of the period and the first instant after it."""
        zone = timezone.get_current_timezone()
        start = datetime.combine(self.starts_on, time.min, tzinfo=zone)
        return start, datetime.combine(self.ends_on + timedelta(days=1), time.min, tzinfo=zone)


@dataclass
class Counts:
    """What ``gather`` read: keyed by institution id (and category or purpose)."""

    flags: dict[tuple[int, str], dict[str, int]] = field(default_factory=dict)  # FLAG_CHANGES, DELAYS
    queries: dict[tuple[int, str], dict[str, int]] = field(default_factory=dict)  # requests, subjects, hits
    inspections: dict[int, dict[str, int]] = field(default_factory=dict)  # inspections, subjects, hits
    uploads: dict[int, dict[str, int]] = field(default_factory=dict)  # uploads, rows, rejected


def gather(period: Period) -> Counts:
    """The period's counts, from four aggregate statements."""
    start, end = period.bounds()
    first, last = period.starts_on, period.ends_on
    created = Q(created_at__gte=start, created_at__lt=end)
    delay = ExpressionWrapper(TruncDate("created_at") - F("event_date"), output_field=DurationField())
    measures: dict[str, Any] = {
        "new": Count("id", filter=created),
        "resolved": Count("id", filter=Q(status=FlagStatus.RESOLVED, end_date__gte=first, end_date__lte=last)),
        "expired": Count("id", filter=Q(status=FlagStatus.EXPIRED, expires_on__gte=first, expires_on__lte=last)),
        "withdrawn": Count(
            "id", filter=Q(status=FlagStatus.WITHDRAWN, details_destroyed_at__gte=start, details_destroyed_at__lt=end)
        ),
    }
    floor: int | None = None  # the first bucket also takes an event dated after its filing (clocks)
    for label, most in DELAYS:
        window = created
        if floor is not None:
            window &= Q(delay__gt=timedelta(days=floor))
        if most is not None:
            window &= Q(delay__lte=timedelta(days=most))
        measures[label] = Count("id", filter=window)
        floor = most
    touched = (
        created
        | Q(end_date__gte=first, end_date__lte=last)
        | Q(expires_on__gte=first, expires_on__lte=last)
        | Q(details_destroyed_at__gte=start, details_destroyed_at__lt=end)
    )
    flags = Flag.objects.alias(delay=delay).filter(touched).values("institution_id", "category").annotate(**measures)
    queries = (
        AuditEvent.objects.filter(action=AuditAction.QUERY, occurred_at__gte=start, occurred_at__lt=end)
        .values("institution_id", "purpose")
        .annotate(requests=Count("id"), subjects=Sum("subjects_count"), hits=Sum("hits_count"))
    )
    inspections = (
        Inspection.objects.filter(status=JobStatus.SUCCEEDED, finished_at__gte=start, finished_at__lt=end)
        .values("institution_id")
        .annotate(
            inspections=Count("id"), subjects=Sum(F("rows_done") - F("rejected_count")), subjects_hit=Sum("hits_count")
        )
    )
    uploads = (
        Upload.objects.filter(finished_at__gte=start, finished_at__lt=end)
        .values("institution_id")
        .annotate(uploads=Count("id"), rows=Sum("rows_done"), rejected=Sum("rejected_count"))
    )
    return Counts(
        flags={(row["institution_id"], row["category"]): _whole(row, *measures) for row in flags.order_by()},
        queries={
            (row["institution_id"], row["purpose"]): _whole(row, "requests", "subjects", "hits")
            for row in queries.order_by()
        },
        inspections={
            row["institution_id"]: _whole(row, "inspections", "subjects", hits="subjects_hit")
            for row in inspections.order_by()
        },
        uploads={row["institution_id"]: _whole(row, "uploads", "rows", "rejected") for row in uploads.order_by()},
    )


def _whole(row: Any, *names: str, **renamed: str) -> dict[str, int]:
    """The named sums of an aggregate row as integers (a sum over no rows is None, here 0)."""
    names_in_row = {**{name: name for name in names}, **renamed}
    return {name: int(row[column] or 0) for name, column in names_in_row.items()}


def members() -> list[Institution]:
    return list(Institution.objects.filter(kind=InstitutionKind.MEMBER).order_by("code"))


class Cells:
    """Published counts of borrowers, by key, and the additive relations between them."""

    def __init__(self) -> None:
        self.values: dict[Hashable, int] = {}
        self.lines: list[Line] = []

    def add(self, key: Hashable, value: int) -> None:
        self.values[key] = value

    def relate(self, total: Hashable, parts: Iterable[Hashable]) -> None:
        self.lines.append(Line(total, tuple(parts)))


@dataclass
class Table:
    """A table as published: ``cells[r][c]`` for ``rows[r]`` and ``columns[c]``; None where suppressed
    or, for a rate, where it has no denominator (``suppressed[r][c]`` tells them apart)."""

    name: str
    rows: list[str]
    columns: list[str]
    cells: list[list[int | float | None]]
    suppressed: list[list[bool]]
    by_institution: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": self.rows,
            "columns": self.columns,
            "cells": self.cells,
            "suppressed": self.suppressed,
            "by_institution": self.by_institution,
        }


def publish(period: Period, counts: Counts, institutions: list[Institution]) -> dict[str, Any]:
    """The report's figures as they may be shown: every table, suppression applied."""
    codes = {institution.pk: institution.code for institution in institutions}
    sector_of = {institution.code: institution.sector or UNSPECIFIED for institution in institutions}
    sectors = [value for value in Sector.values if value in sector_of.values()]
    sectors += [UNSPECIFIED] if UNSPECIFIED in sector_of.values() else []
    categories, purposes = list(Category.values), list(QueryPurpose.values)

    cells = Cells()
    _flag_cells(cells, counts, codes, sector_of, sectors, categories)
    _query_cells(cells, counts, codes, purposes)
    _job_cells(cells, counts.inspections, codes, ("inspected", "inspection_hits"), ("subjects", "hits"))
    _job_cells(cells, counts.uploads, codes, ("rows", "rejected"), ("rows", "rejected"))
    hidden = suppress(cells.values, cells.lines)

    def count(key: Hashable) -> Cell:
        return (None, True) if key in hidden else (cells.values[key], False)

    def rate(numerator: Hashable, denominator: Hashable) -> Cell:
        if numerator in hidden or denominator in hidden:
            return None, True
        below = cells.values[denominator]
        return (round(cells.values[numerator] / below, 4) if below else None), False

    def plain(value: int) -> Cell:  # counts of requests or jobs, not of borrowers
        return value, False

    requests = _jobs_by(counts.queries, codes, "requests", by_purpose=False)
    by_purpose = _jobs_by(counts.queries, codes, "requests", by_purpose=True)
    inspections = _jobs_by(counts.inspections, codes, "inspections")
    uploads = _jobs_by(counts.uploads, codes, "uploads")
    institution_rows = [*codes.values(), ALL]
    tables = [
        _grid(
            "flags_by_category_and_sector",
            [*categories, ALL],
            [*sectors, ALL],
            lambda category, sector: count(("new", sector, category)),
        ),
        _grid(
            "flags_by_institution",
            institution_rows,
            [*categories, ALL],
            lambda code, category: count(("new", code, category)),
            by_institution=True,
        ),
        _grid(
            "flag_changes_by_category",
            [*categories, ALL],
            list(FLAG_CHANGES),
            lambda category, change: count(("new", ALL, category) if change == "new" else (change, category)),
        ),
        _grid(
            "filing_delay_by_sector",
            [*sectors, ALL],
            [*(label for label, _ in DELAYS), ALL],
            lambda sector, delay: count(("new", sector, ALL) if delay == ALL else ("delay", sector, delay)),
        ),
        _by_column(
            "queries_by_purpose",
            [*purposes, ALL],
            {
                "requests": lambda purpose: plain(by_purpose.get(purpose, 0)),
                "subjects": lambda purpose: count(("subjects", ALL, purpose)),
                "hits": lambda purpose: count(("hits", ALL, purpose)),
                "hit_rate": lambda purpose: rate(("hits", ALL, purpose), ("subjects", ALL, purpose)),
            },
        ),
        _by_column(
            "queries_by_institution",
            institution_rows,
            {
                "requests": lambda code: plain(requests.get(code, 0)),
                "subjects": lambda code: count(("subjects", code, ALL)),
                "hits": lambda code: count(("hits", code, ALL)),
                "hit_rate": lambda code: rate(("hits", code, ALL), ("subjects", code, ALL)),
                # Asking much while contributing little is what reciprocity is meant to stop.
                "flags_contributed": lambda code: count(("new", code, ALL)),
                "subjects_per_flag": lambda code: rate(("subjects", code, ALL), ("new", code, ALL)),
            },
            by_institution=True,
        ),
        _by_column(
            "inspections_by_institution",
            institution_rows,
            {
                "inspections": lambda code: plain(inspections.get(code, 0)),
                "subjects": lambda code: count(("inspected", code)),
                "hits": lambda code: count(("inspection_hits", code)),
                "hit_rate": lambda code: rate(("inspection_hits", code), ("inspected", code)),
            },
            by_institution=True,
        ),
        _by_column(
            "data_quality_by_institution",
            institution_rows,
            {
                "uploads": lambda code: plain(uploads.get(code, 0)),
                "rows": lambda code: count(("rows", code)),
                "rejected": lambda code: count(("rejected", code)),
                "rejected_rate": lambda code: rate(("rejected", code), ("rows", code)),
            },
            by_institution=True,
        ),
    ]
    return {
        "period": {"starts_on": period.starts_on.isoformat(), "ends_on": period.ends_on.isoformat()},
        "institutions": [
            {"code": i.code, "name_zh": i.name_zh, "name_en": i.name_en, "sector": i.sector or UNSPECIFIED}
            for i in institutions
        ],
        "tables": [table.as_dict() for table in tables],
        "notes": list(NOTES),
    }


Cell = tuple[int | float | None, bool]


def _grid(
    name: str, rows: list[str], columns: list[str], cell: Callable[[str, str], Cell], by_institution: bool = False
) -> Table:
    grid = [[cell(row, column) for column in columns] for row in rows]
    return Table(
        name,
        rows,
        columns,
        [[value for value, _ in line] for line in grid],
        [[hidden for _, hidden in line] for line in grid],
        by_institution,
    )


def _by_column(
    name: str, rows: list[str], columns: dict[str, Callable[[str], Cell]], by_institution: bool = False
) -> Table:
    return _grid(name, rows, list(columns), lambda row, column: columns[column](row), by_institution)


def _jobs_by(
    source: dict[Any, dict[str, int]], codes: dict[int, str], measure: str, by_purpose: bool = False
) -> dict[str, int]:
    """Counts of requests or jobs (not of borrowers: never suppressed) by institution code, or by
    purpose for keys (institution, purpose); with their total under ALL."""
    totals: dict[str, int] = defaultdict(int)
    for key, row in source.items():
        pk, purpose = key if isinstance(key, tuple) else (key, "")
        if pk in codes:
            totals[purpose if by_purpose else codes[pk]] += row[measure]
            totals[ALL] += row[measure]
    return totals


def _flag_cells(
    cells: Cells,
    counts: Counts,
    codes: dict[int, str],
    sector_of: dict[str, str],
    sectors: list[str],
    categories: list[str],
) -> None:
    """New flags by institution, sector and category (and their totals), changes by category, and
    filing delays by sector: every margin published, each related to its parts."""
    new: dict[tuple[str, str], int] = defaultdict(int)
    other: dict[tuple[str, str], int] = defaultdict(int)  # (change or delay label, category or sector)
    for (pk, category), row in counts.flags.items():
        if pk not in codes:
            continue
        code = codes[pk]
        new[code, category] += row["new"]
        for change in FLAG_CHANGES[1:]:
            other[change, category] += row[change]
        for label, _ in DELAYS:
            other[label, sector_of[code]] += row[label]
    members_ = list(codes.values())
    for code in members_:
        for category in categories:
            cells.add(("new", code, category), new[code, category])
        cells.add(("new", code, ALL), sum(new[code, category] for category in categories))
        cells.relate(("new", code, ALL), [("new", code, category) for category in categories])
    for sector in [*sectors, ALL]:
        inside = [code for code in members_ if sector in (ALL, sector_of[code])]
        for category in [*categories, ALL]:
            cells.add(("new", sector, category), sum(cells.values["new", code, category] for code in inside))
            cells.relate(("new", sector, category), [("new", code, category) for code in inside])
        cells.relate(("new", sector, ALL), [("new", sector, category) for category in categories])
    for category in [*categories, ALL]:
        cells.relate(("new", ALL, category), [("new", sector, category) for sector in sectors])
    for change in FLAG_CHANGES[1:]:
        for category in categories:
            cells.add((change, category), other[change, category])
        cells.add((change, ALL), sum(other[change, category] for category in categories))
        cells.relate((change, ALL), [(change, category) for category in categories])
    labels = [label for label, _ in DELAYS]
    for sector in sectors:
        for label in labels:
            cells.add(("delay", sector, label), other[label, sector])
        cells.relate(("new", sector, ALL), [("delay", sector, label) for label in labels])
    for label in labels:
        cells.add(("delay", ALL, label), sum(other[label, sector] for sector in sectors))
        cells.relate(("delay", ALL, label), [("delay", sector, label) for sector in sectors])
    cells.relate(("new", ALL, ALL), [("delay", ALL, label) for label in labels])


def _query_cells(cells: Cells, counts: Counts, codes: dict[int, str], purposes: list[str]) -> None:
    """Subjects asked about and hits, by institution and by purpose, each with its total."""
    for measure in ("subjects", "hits"):
        by_member: dict[str, int] = defaultdict(int)
        by_purpose: dict[str, int] = defaultdict(int)
        for (pk, purpose), row in counts.queries.items():
            if pk in codes:
                by_member[codes[pk]] += row[measure]
                by_purpose[purpose] += row[measure]
        for code in codes.values():
            cells.add((measure, code, ALL), by_member[code])
        for purpose in purposes:
            cells.add((measure, ALL, purpose), by_purpose[purpose])
        cells.add((measure, ALL, ALL), sum(by_member.values()))
        cells.relate((measure, ALL, ALL), [(measure, code, ALL) for code in codes.values()])
        cells.relate((measure, ALL, ALL), [(measure, ALL, purpose) for purpose in purposes])


def _job_cells(
    cells: Cells,
    source: dict[int, dict[str, int]],
    codes: dict[int, str],
    keys: tuple[str, str],
    measures: tuple[str, str],
) -> None:
    """Two counts of borrowers per institution from finished jobs, each with its total."""
    for key, measure in zip(keys, measures, strict=True):
        for pk, code in codes.items():
            cells.add((key, code), source.get(pk, {}).get(measure, 0))
        cells.add((key, ALL), sum(cells.values[key, code] for code in codes.values()))
        cells.relate((key, ALL), [(key, code) for code in codes.values()])


def member_slice(figures: dict[str, Any], code: str) -> dict[str, Any]:
    """One member's part of a published report: its own row of each table by institution, nothing else."""
    tables = []
    for table in figures["tables"]:
        if not table["by_institution"] or code not in table["rows"]:
            continue
        index = table["rows"].index(code)
        tables.append(
            {
                **table,
                "rows": [code],
                "cells": [table["cells"][index]],
                "suppressed": [table["suppressed"][index]],
            }
        )
    own = [institution for institution in figures["institutions"] if institution["code"] == code]
    return {**figures, "institutions": own, "tables": tables}
