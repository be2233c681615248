"""What the portal draws of a published report: labelled tables, bars and monthly trends.

Plain data for the templates, which draw it as inline SVG: no script, nothing fetched. Every
value comes from the published figures, so a suppressed cell stays suppressed here (a bar
without length, marked ``x``).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.choices import Sector
from sharing.choices import Category, QueryPurpose
from sharing.reports.gathering import ALL, UNSPECIFIED

TITLES = {
    "flags_by_category_and_sector": _("New flags by category and sector"),
    "flags_by_institution": _("New flags by institution"),
    "flag_changes_by_category": _("Flags filed, resolved, expired and withdrawn"),
    "filing_delay_by_sector": _("Days from the event to the filing, by sector"),
    "queries_by_purpose": _("Queries by purpose"),
    "queries_by_institution": _("Queries and contributions by institution"),
    "inspections_by_institution": _("Inspections by institution"),
    "data_quality_by_institution": _("Data quality: rows rejected by institution"),
    "multi_lending_by_sector_and_month": _(
        "Multi-lending: borrowers with loans open at several lenders at the month's end, by sector"
    ),
    "loans_opened_by_sector_and_month": _("Loans opened, by sector and month"),
    "lending_queries_by_sector_and_month": _("Lending queries, by sector and month"),
}
WORDS = {
    ALL: _("Total"),
    UNSPECIFIED: _("Unspecified"),
    "new": _("Filed"),
    "resolved": _("Resolved"),
    "expired": _("Expired"),
    "withdrawn": _("Withdrawn"),
    "requests": _("Requests"),
    "subjects": _("Subjects"),
    "hits": _("Hits"),
    "hit_rate": _("Hit rate"),
    "flags_contributed": _("Flags contributed"),
    "subjects_per_flag": _("Subjects asked per flag contributed"),
    "inspections": _("Inspections"),
    "uploads": pgettext_lazy("report column", "Uploads"),
    "rows": _("Rows"),
    "rejected": _("Rows rejected"),
    "rejected_rate": _("Rejection rate"),
    "0-30": _("0-30 days"),
    "31-90": _("31-90 days"),
    "91-180": _("91-180 days"),
    "181-365": _("181-365 days"),
    "366+": _("Over a year"),
    "3+": pgettext_lazy("report column", "3 or more lenders"),
    "5+": pgettext_lazy("report column", "5 or more lenders"),
    "10+": pgettext_lazy("report column", "10 or more lenders"),
    "loans": pgettext_lazy("report column", "Loans"),
    "borrowers": pgettext_lazy("report column", "Borrowers"),
    "records": pgettext_lazy("report column", "Query records"),
    "institutions": pgettext_lazy("report column", "Institutions"),
    **dict(Category.choices),
    **dict(Sector.choices),
    **dict(QueryPurpose.choices),
}
PERCENTS = {"hit_rate", "rejected_rate"}
RATIOS = {"subjects_per_flag"}


@dataclass(frozen=True)
class Cell:
    value: int | float | None
    suppressed: bool
    column: str

    @property
    def text(self) -> str:
        if self.suppressed:
            return "x"
        if self.value is None:
            return ""  # a rate without a denominator
        if self.column in PERCENTS:
            return f"{self.value:.2%}"
        if self.column in RATIOS:
            return f"{self.value:,.2f}"
        return f"{self.value:,}"


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[tuple[str, list[Cell]]]


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | None  # None: suppressed
    share: float  # of the longest bar, 0 to 1


def label(code: str, names: dict[str, str]) -> str:
    """A row or column code in words: an institution's name, a category, a sector, a measure; a month
    and a sector (``2026-10/bank``) as the month and the sector in words."""
    month, _slash, sector = code.partition("/")
    if sector:
        return f"{month} {label(sector, names)}"
    return names.get(code) or str(WORDS.get(code, code))


def categories_in_words(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Counts by flag category, the categories in words, the largest count first."""
    names = dict(Category.choices)
    return sorted(((str(names.get(code, code)), n) for code, n in counts.items()), key=lambda pair: (-pair[1], pair[0]))


def institution_names(figures: dict[str, Any]) -> dict[str, str]:
    chinese = (get_language() or "").startswith("zh")
    return {i["code"]: i["name_zh"] if chinese else i["name_en"] for i in figures["institutions"]}


def tables(figures: dict[str, Any]) -> list[Table]:
    names = institution_names(figures)
    drawn = []
    for table in figures["tables"]:
        rows = [
            (
                label(row, names),
                [
                    Cell(value, hidden, column)
                    for column, value, hidden in zip(table["columns"], values, flags, strict=True)
                ],
            )
            for row, values, flags in zip(table["rows"], table["cells"], table["suppressed"], strict=True)
        ]
        title = str(TITLES.get(table["name"], table["name"]))
        drawn.append(Table(table["name"], title, [label(column, names) for column in table["columns"]], rows))
    return drawn


def _table(figures: dict[str, Any], name: str) -> dict[str, Any]:
    return next(table for table in figures["tables"] if table["name"] == name)


def _value(table: dict[str, Any], row: str, column: str) -> int | None:
    r, c = table["rows"].index(row), table["columns"].index(column)
    return None if table["suppressed"][r][c] else table["cells"][r][c]


BAR_HEIGHT = 26  # pixels per bar in the SVG's own units


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]

    @property
    def height(self) -> int:
        return BAR_HEIGHT * len(self.bars) + 8


def bars(pairs: list[tuple[str, int | None]]) -> Chart:
    longest = max((value for _, value in pairs if value), default=0)
    return Chart([Bar(name, value, (value / longest) if value and longest else 0.0) for name, value in pairs])


def new_flags_by_category(figures: dict[str, Any]) -> Chart:
    table = _table(figures, "flags_by_category_and_sector")
    return bars([(label(row, {}), _value(table, row, ALL)) for row in table["rows"] if row != ALL])


def new_flags_by_sector(figures: dict[str, Any]) -> Chart:
    table = _table(figures, "flags_by_category_and_sector")
    return bars([(label(column, {}), _value(table, ALL, column)) for column in table["columns"] if column != ALL])


def trend(monthly: list[tuple[str, dict[str, Any]]]) -> tuple[Chart, Chart]:
    """New flags, and subjects queried, per month (YYYY-MM), from monthly reports' figures, oldest first."""
    flags = bars([(month, _value(_table(f, "flags_by_category_and_sector"), ALL, ALL)) for month, f in monthly])
    subjects = bars([(month, _value(_table(f, "queries_by_purpose"), ALL, "subjects")) for month, f in monthly])
    return flags, subjects
