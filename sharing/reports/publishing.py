"""Regulators' reports, second half: the counts of a period published as tables, small cells
suppressed (docs/reports.md).

``publish`` turns the counts that ``sharing.reports.gathering`` read into tables, decides what to
suppress (``sharing.reports.suppression``) and returns what may be shown, and nothing more: a
suppressed cell leaves this module as None. ``member_slice`` cuts the part about one member out of
a published report.
"""

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from accounts.choices import Sector
from accounts.models import Institution
from sharing.choices import Category, QueryPurpose
from sharing.reports.gathering import ALL, DELAYS, FLAG_CHANGES, UNSPECIFIED, Counts, Period
from sharing.reports.lending import Plain, lending_cells, lending_grids
from sharing.reports.suppression import Cells, suppress

NOTES = (
    "disputes: the platform records no disputes yet, so the report has no figures on them.",
    "suppressed: a cell counting 1 to 10 borrowers is suppressed, and so is any cell from which a "
    "suppressed one could be worked out (docs/reports.md). Suppressed values are null.",
    "multi-lending: a loan's borrower is its first identifier in the order cnid, passport, uscc, mobile; a "
    "borrower counts under every sector that lends to it and once in all, so sectors need not add up to all; "
    "a loan is open at a month's end when it opened by then and had not closed by then (docs/reports.md).",
)


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
    sector_by_pk = {pk: sector_of[code] for pk, code in codes.items()}
    months = period.months()

    cells = Cells()
    _flag_cells(cells, counts, codes, sector_of, sectors, categories)
    _query_cells(cells, counts, codes, purposes)
    _job_cells(cells, counts.inspections, codes, ("inspected", "inspection_hits"), ("subjects", "hits"))
    _job_cells(cells, counts.uploads, codes, ("rows", "rejected"), ("rows", "rejected"))
    lending_cells(cells, counts, months, sectors, sector_by_pk)
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

    def lending_table(name: str, rows: list[str], columns: list[str], show: Callable[[str, str], Hashable]) -> Table:
        def shown(row: str, column: str) -> Cell:
            key = show(row, column)
            return plain(key.value) if isinstance(key, Plain) else count(key)

        return _grid(name, rows, columns, shown)

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
        *(lending_table(*grid) for grid in lending_grids(counts, months, sectors, sector_by_pk)),
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
