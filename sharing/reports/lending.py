"""The multi-lending tables of a report: borrowers with loans open at several members at a month's
end, loans opened, and lending queries, by sector and month (docs/reports.md).

``lending_cells`` turns what ``sharing.reports.gathering`` counted into cells of borrowers and the
lines between them, for ``sharing.reports.suppression``; ``lending_grids`` says what each table
shows where. ``sharing.reports.publishing`` makes the tables of both.
"""

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from sharing.reports.gathering import ALL, LENDER_BANDS, Counts, Month
from sharing.reports.suppression import Cells

MULTI_LENDING = "multi_lending_by_sector_and_month"
LOANS_OPENED = "loans_opened_by_sector_and_month"
LENDING_QUERIES = "lending_queries_by_sector_and_month"
BANDS = tuple(band for band, _ in LENDER_BANDS)  # 3-4, 5-9, 10+: counted, not published
AT_LEAST = tuple(f"{fewest}+" for _, fewest in LENDER_BANDS)  # 3+, 5+, 10+: published, the bands summed
OPENED_MEASURES = ("loans", "borrowers")
QUERY_MEASURES = ("records", "institutions")


@dataclass(frozen=True)
class Plain:
    """A count of institutions, not of borrowers: published as it is."""

    value: int


# A table: its name, rows, columns, and what each cell shows (a cell of borrowers by key, or a Plain count).
Grid = tuple[str, list[str], list[str], Callable[[str, str], Hashable]]


def row_code(month: str, sector: str) -> str:
    """A row of the tables by sector and month: ``2026-10/bank``, ``2026-10/all``."""
    return f"{month}/{sector}"


def lending_cells(
    cells: Cells, counts: Counts, months: list[Month], sectors: list[str], sector_of: dict[int, str]
) -> None:
    """The counts of borrowers of the three tables, with the lines they take part in.

    ``sector_of`` gives the sector of each member by id. A borrower counts under every sector that
    lends to it and once under ``all``, so the sectors do not add up to ``all`` in general; where
    they happen to (no borrower of that cell has loans from two sectors), the line is recorded, as
    a reader who notices the sum could use it. Loans and query records belong to one institution
    each: their sectors always add up.
    """
    records = _records(counts, sector_of)
    for month in months:
        for sector in [*sectors, ALL]:
            borrowers = counts.multi_lending.get((month.code, sector), {})
            above = _multi(month.code, sector, BANDS[-1])  # 10+: the top band is its own sum
            cells.add(above, borrowers.get(BANDS[-1], 0))
            for n in range(len(BANDS) - 2, -1, -1):  # 5+ = 5-9 + 10+; 3+ = 3-4 + 5+
                band, total = _multi(month.code, sector, BANDS[n]), _multi(month.code, sector, AT_LEAST[n])
                cells.add(band, borrowers.get(BANDS[n], 0))
                cells.add(total, cells.values[band] + cells.values[above])
                cells.relate(total, [band, above])
                above = total
            opened = counts.loans_opened.get((month.code, sector), {})
            cells.add(("opened", month.code, sector, "borrowers"), opened.get("borrowers", 0))
            if sector != ALL:
                cells.add(("opened", month.code, sector, "loans"), opened.get("loans", 0))
                cells.add(("queries", month.code, sector, "records"), records.get((month.code, sector), 0))
        for kind, measure in (("opened", "loans"), ("queries", "records")):
            parts = [(kind, month.code, sector, measure) for sector in sectors]
            cells.add((kind, month.code, ALL, measure), sum(cells.values[part] for part in parts))
            cells.relate((kind, month.code, ALL, measure), parts)
        measures = [("opened", "borrowers"), *(("multi", label) for label in (*BANDS, *AT_LEAST[:-1]))]
        for kind, measure in measures:
            total, parts = (kind, month.code, ALL, measure), [(kind, month.code, sector, measure) for sector in sectors]
            if cells.values[total] == sum(cells.values[part] for part in parts):
                cells.relate(total, parts)


def lending_grids(counts: Counts, months: list[Month], sectors: list[str], sector_of: dict[int, str]) -> list[Grid]:
    """The three tables: rows by month and sector (``row_code``), and the cell each column shows."""
    rows = [row_code(month.code, sector) for month in months for sector in [*sectors, ALL]]
    institutions = _institutions(counts, sector_of)

    def split(row: str) -> tuple[str, str]:
        month, sector = row.split("/", 1)
        return month, sector

    def multi(row: str, column: str) -> Hashable:
        return _multi(*split(row), column)

    def opened(row: str, column: str) -> Hashable:
        return ("opened", *split(row), column)

    def queries(row: str, column: str) -> Hashable:
        if column == "institutions":
            return Plain(institutions.get(split(row), 0))
        return ("queries", *split(row), column)

    return [
        (MULTI_LENDING, rows, list(AT_LEAST), multi),
        (LOANS_OPENED, rows, list(OPENED_MEASURES), opened),
        (LENDING_QUERIES, rows, list(QUERY_MEASURES), queries),
    ]


def _multi(month: str, sector: str, label: str) -> Hashable:
    return ("multi", month, sector, label)


def _records(counts: Counts, sector_of: dict[int, str]) -> dict[tuple[str, str], int]:
    """Members' lending query records by (month, sector)."""
    records: dict[tuple[str, str], int] = defaultdict(int)
    for (month, pk), n in counts.lending_queries.items():
        if pk in sector_of:
            records[month, sector_of[pk]] += n
    return records


def _institutions(counts: Counts, sector_of: dict[int, str]) -> dict[tuple[str, str], int]:
    """Members that made lending queries, by (month, sector) and (month, ALL)."""
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for (month, pk), n in counts.lending_queries.items():
        if pk in sector_of and n:
            seen[month, sector_of[pk]] += 1
            seen[month, ALL] += 1
    return seen
