"""The multi-lender figures of a borrower (多头借贷, 共债): defined once, here, for queries and inspections.

Per subject, from its platform tokens (one to five), as of ``today`` (``timezone.localdate()``):

- ``institutions_queried_7d``, ``_30d``, ``_90d``: distinct other institutions with a query record
  for a lending purpose on any of the subject's tokens, on a day after ``today`` minus 7, 30, 90 days;
- ``institutions_with_open_loans``: distinct other institutions with an open loan on any token;
- ``loans_opened_90d``, ``_180d``: other institutions' loans (each once) opened after ``today`` minus
  90, 180 days, open or since closed;
- ``open_amount_band``: the total of other institutions' open loans' amount bands, as a band
  (``vocabulary.band_of_total``), "" when there is none;
- the caller's own, apart: ``own_queries_90d`` (distinct days in the last 90 on which it queried the
  subject for lending), ``own_open_loans`` and ``own_loans_opened_180d``.

A loan is **open** while it has no ``closed_on`` and has not been erased (its reference is kept).
A loan or an institution found through several of a subject's tokens counts once.

Two forms give the same answer, which the tests hold together: ``figures_sql``, one PostgreSQL
statement over any relation of (row, token), which the query (with its subjects) and an inspection
(with its staging table) run set-wise; and ``portable``, through the ORM, for SQLite.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection

from accounts.models import Institution
from memberkit.vocabulary import BAND_STARTS, BAND_WORTH, LENDING_FIGURES, band_of_total
from sharing.choices import LENDING_PURPOSES
from sharing.models import ContributedLoans, Loan, LoanToken, QueryRecord

# The windows, in days back from today: a day or an opening date counts if it is after today minus these.
QUERIED_DAYS = (7, 30, 90)
OPENED_DAYS = (90, 180)
OWN_QUERIES_DAYS = 90
OWN_OPENED_DAYS = 180
# The figures that count (every one but the band).
COUNTS = tuple(figure for figure in LENDING_FIGURES if figure != "open_amount_band")
Figures = dict[str, Any]
# What a subject with nothing to show has: every count 0, no band.
NONE: Figures = {figure: "" if figure == "open_amount_band" else 0 for figure in LENDING_FIGURES}

_PURPOSES = sorted(LENDING_PURPOSES)
_QUERY_RECORDS = QueryRecord._meta.db_table
_LOANS = Loan._meta.db_table
_LOAN_TOKENS = LoanToken._meta.db_table


def params(institution_id: int, today: date) -> dict[str, Any]:
    """The named parameters of ``figures_sql``: the caller, the windows' last excluded day, the purposes."""
    since = {days: today - timedelta(days=days) for days in {*QUERIED_DAYS, *OPENED_DAYS, OWN_QUERIES_DAYS}}
    return {
        "lending_institution": institution_id,
        **{f"lending_since_{days}": day for days, day in since.items()},
        "lending_purposes": _PURPOSES,
    }


def _worth() -> str:
    """A loan's amount band as what it counts for in a total (``BAND_WORTH``)."""
    whens = " ".join(f"WHEN '{band}' THEN {worth}" for band, worth in BAND_WORTH.items())
    return f"CASE l.amount_band {whens} ELSE 0 END"


def _band(total: str, loans: str) -> str:
    """``band_of_total`` in SQL: the band whose start is the highest at or below the total; "" for no loans."""
    by_start = sorted(BAND_STARTS.items(), key=lambda item: item[1], reverse=True)
    whens = " ".join(f"WHEN {total} >= {start} THEN '{band}'" for band, start in by_start)
    return f"CASE WHEN {loans} = 0 THEN '' {whens} ELSE '' END"


_OTHER_QUERY = "q.institution_id <> %(lending_institution)s"
_OWN_LOAN = "l.institution_id = %(lending_institution)s"
_OPEN = "l.closed_on IS NULL AND l.reference IS NOT NULL"


def figures_sql(subjects: str) -> str:
    """One SELECT, PostgreSQL's, of the figures of every row of ``subjects`` with one not zero.

    ``subjects`` is a FROM item with the columns ``row`` (int) and ``token`` (a platform token,
    bytea): a table, a CTE's name, or ``unnest(...) AS v(row, token)``; a row may have several
    tokens. Its columns: ``row``, then ``LENDING_FIGURES`` in order and by name. Parameters: ``params(...)``.

    Each token probes the query records' unique index (token, day, ...) and the loans' token index
    in a LATERAL subquery that OFFSET 0 keeps the planner from flattening into a join, so the plan
    is one index probe per token whatever the statistics say (autovacuum may be off); a loan is
    then read by its primary key, in a probe of its own.
    """
    q = (
        f"SELECT s.row, count(DISTINCT q.institution_id) FILTER (WHERE {_OTHER_QUERY}"  # noqa: S608
        " AND q.day > %(lending_since_7)s) AS queried_7d,"
        f" count(DISTINCT q.institution_id) FILTER (WHERE {_OTHER_QUERY} AND q.day > %(lending_since_30)s)"
        " AS queried_30d,"
        f" count(DISTINCT q.institution_id) FILTER (WHERE {_OTHER_QUERY} AND q.day > %(lending_since_90)s)"
        " AS queried_90d,"
        " 0 AS open_institutions, 0 AS opened_90d, 0 AS opened_180d, 0 AS open_worth, 0 AS open_loans,"
        " count(DISTINCT q.day) FILTER (WHERE q.institution_id = %(lending_institution)s"
        " AND q.day > %(lending_since_90)s) AS own_queries,"
        " 0 AS own_open, 0 AS own_opened"
        f" FROM (SELECT row, token FROM {subjects}) s CROSS JOIN LATERAL (SELECT r.institution_id, r.day"
        f" FROM {_QUERY_RECORDS} r WHERE r.token = s.token AND r.day > %(lending_since_90)s"
        " AND r.purpose = ANY(%(lending_purposes)s) OFFSET 0) q GROUP BY s.row"
    )
    # Each (row, loan) once, however many of the row's tokens found the loan.
    matched = (
        f"SELECT DISTINCT s.row, l.id, l.institution_id, l.opened_on, {_OWN_LOAN} AS own, {_OPEN} AS open,"  # noqa: S608
        f" {_worth()} AS worth"
        f" FROM (SELECT row, token FROM {subjects}) s"
        f" CROSS JOIN LATERAL (SELECT t.loan_id FROM {_LOAN_TOKENS} t WHERE t.token = s.token OFFSET 0) t"
        " CROSS JOIN LATERAL (SELECT l.id, l.institution_id, l.opened_on, l.closed_on, l.reference, l.amount_band"
        f" FROM {_LOANS} l WHERE l.id = t.loan_id OFFSET 0) l"
    )
    loans = (
        "SELECT m.row, 0, 0, 0,"  # noqa: S608
        " count(DISTINCT m.institution_id) FILTER (WHERE NOT m.own AND m.open),"
        " count(*) FILTER (WHERE NOT m.own AND m.opened_on > %(lending_since_90)s),"
        " count(*) FILTER (WHERE NOT m.own AND m.opened_on > %(lending_since_180)s),"
        " COALESCE(sum(m.worth) FILTER (WHERE NOT m.own AND m.open), 0),"
        " count(*) FILTER (WHERE NOT m.own AND m.open),"
        " 0,"
        " count(*) FILTER (WHERE m.own AND m.open),"
        " count(*) FILTER (WHERE m.own AND m.opened_on > %(lending_since_180)s)"
        f" FROM ({matched}) m GROUP BY m.row"
    )
    sums = ", ".join(
        f"sum(g.{name})::int AS {name}"
        for name in (
            "queried_7d",
            "queried_30d",
            "queried_90d",
            "open_institutions",
            "opened_90d",
            "opened_180d",
            "open_worth",
            "open_loans",
            "own_queries",
            "own_open",
            "own_opened",
        )
    )
    named = (
        "f.queried_7d AS institutions_queried_7d, f.queried_30d AS institutions_queried_30d,"
        " f.queried_90d AS institutions_queried_90d, f.open_institutions AS institutions_with_open_loans,"
        " f.opened_90d AS loans_opened_90d, f.opened_180d AS loans_opened_180d,"
        f" {_band('f.open_worth', 'f.open_loans')} AS open_amount_band,"
        " f.own_queries AS own_queries_90d, f.own_open AS own_open_loans, f.own_opened AS own_loans_opened_180d"
    )
    return (
        f"SELECT f.row, {named}"  # noqa: S608
        f" FROM (SELECT g.row, {sums} FROM ({q} UNION ALL {loans}) g GROUP BY g.row) f"
        " WHERE f.queried_90d + f.open_institutions + f.opened_180d + f.own_queries + f.own_open + f.own_opened > 0"
    )


def from_row(row: tuple[Any, ...]) -> tuple[int, Figures]:
    """A row of ``figures_sql``: its subject row and its figures."""
    return int(row[0]), dict(zip(LENDING_FIGURES, row[1:], strict=True))


def compute(institution_id: int, today: date, subjects: Iterable[tuple[int, bytes]]) -> dict[int, Figures]:
    """The figures of (row, token) subjects, by row, for rows with a figure not zero (the others: ``NONE``)."""
    subjects = list(subjects)
    if not subjects:
        return {}
    if connection.vendor != "postgresql":
        return portable(institution_id, today, subjects)
    relation = "unnest(%(lending_rows)s::int[], %(lending_tokens)s::bytea[]) AS v(row, token)"
    values = {
        **params(institution_id, today),
        "lending_rows": [row for row, _ in subjects],
        "lending_tokens": [token for _, token in subjects],
    }
    with connection.cursor() as cursor:
        cursor.execute(figures_sql(relation), values)
        return dict(from_row(row) for row in cursor.fetchall())


def portable(institution_id: int, today: date, subjects: Iterable[tuple[int, bytes]]) -> dict[int, Figures]:
    """The same figures as ``figures_sql``, through the ORM: for SQLite, and as the reference."""
    by_token: dict[bytes, set[int]] = defaultdict(set)
    for row, token in subjects:
        by_token[bytes(token)].add(row)
    since = {days: today - timedelta(days=days) for days in {*QUERIED_DAYS, *OPENED_DAYS, OWN_QUERIES_DAYS}}
    queried: dict[int, set[tuple[int, date]]] = defaultdict(set)  # row: (institution, day)
    loans: dict[int, dict[int, Loan]] = defaultdict(dict)  # row: {loan id: loan}
    tokens = list(by_token)
    for start in range(0, len(tokens), 500):
        chunk = tokens[start : start + 500]
        records = QueryRecord.objects.filter(
            token__in=chunk, day__gt=since[max(QUERIED_DAYS)], purpose__in=_PURPOSES
        ).values_list("token", "institution_id", "day")
        for stored, institution, day in records:
            for row in by_token[bytes(stored)]:
                queried[row].add((institution, day))
        found = LoanToken.objects.filter(token__in=chunk).select_related("loan")
        for loan_token in found:
            for row in by_token[bytes(loan_token.token)]:
                loans[row][loan_token.loan_id] = loan_token.loan
    answers: dict[int, Figures] = {}
    for row in queried.keys() | loans.keys():
        others_queried = [(i, day) for i, day in queried[row] if i != institution_id]
        own = [loan for loan in loans[row].values() if loan.institution_id == institution_id]
        others = [loan for loan in loans[row].values() if loan.institution_id != institution_id]
        open_elsewhere = [loan for loan in others if _is_open(loan)]
        figures: Figures = {
            **{
                f"institutions_queried_{days}d": len({i for i, day in others_queried if day > since[days]})
                for days in QUERIED_DAYS
            },
            "institutions_with_open_loans": len({loan.institution_id for loan in open_elsewhere}),
            **{
                f"loans_opened_{days}d": sum(1 for loan in others if loan.opened_on > since[days])
                for days in OPENED_DAYS
            },
            "open_amount_band": band_of_total([loan.amount_band for loan in open_elsewhere]),
            "own_queries_90d": len(
                {day for i, day in queried[row] if i == institution_id and day > since[OWN_QUERIES_DAYS]}
            ),
            "own_open_loans": sum(1 for loan in own if _is_open(loan)),
            "own_loans_opened_180d": sum(1 for loan in own if loan.opened_on > since[OWN_OPENED_DAYS]),
        }
        if any(figures[name] for name in COUNTS):
            answers[row] = {figure: figures[figure] for figure in LENDING_FIGURES}
    return answers


def _is_open(loan: Loan) -> bool:
    return loan.closed_on is None and loan.reference is not None


# Whether the institution has reported a loan within the reciprocity window: parameters reciprocity_params(...).
LOANS_RECIPROCAL = (
    f"EXISTS (SELECT 1 FROM {ContributedLoans._meta.db_table}"  # noqa: S608
    " WHERE institution_id = %(loans_institution)s AND last_contributed_at >= %(loans_since)s)"
)


def reciprocity_params(institution: Institution, now: datetime) -> dict[str, Any]:
    """The parameters of ``LOANS_RECIPROCAL``: the institution and the start of the window."""
    since = now - timedelta(days=settings.MATCH_RECIPROCITY_DAYS)
    return {"loans_institution": institution.pk, "loans_since": connection.ops.adapt_datetimefield_value(since)}


def loans_reciprocal(institution: Institution, now: datetime) -> bool:
    """Whether the institution has reported a loan within ``MATCH_RECIPROCITY_DAYS`` of ``now``: the
    multi-lender figures are for those who contribute loans, as flags are for those who contribute flags.

    A query learns it in its lookup's own round trip (sharing.matching.queries); this is for the others.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {LOANS_RECIPROCAL}", reciprocity_params(institution, now))
        row = cursor.fetchone()
    return bool(row and row[0])
