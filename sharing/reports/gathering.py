"""Regulators' reports, first half: the counts of a period, read in a few aggregate statements.

``gather`` reads the database: one pass over the flags, one over the period's query events,
one each over inspections and uploads, one statement over the loans (the multi-lending counts,
set-wise in SQL) and one over the query records; ``sharing.reports.publishing`` makes the tables
of them.
"""

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from accounts.choices import AuditAction, InstitutionKind, Sector
from accounts.models import AuditEvent, Institution
from sharing.choices import LENDING_PURPOSES, FlagStatus, IdType, JobStatus
from sharing.models import Flag, Inspection, Loan, LoanToken, QueryRecord, Upload

ALL = "all"
UNSPECIFIED = "unspecified"  # the sector of a member that has none recorded
# How long after the event a flag was filed, in days: (label, most days or None for no bound).
DELAYS = (("0-30", 30), ("31-90", 90), ("91-180", 180), ("181-365", 365), ("366+", None))
FLAG_CHANGES = ("new", "resolved", "expired", "withdrawn")
# Which of a loan's identifiers names its borrower in the reports, the first it carries of these
# (docs/reports.md, "Who is a borrower"): the identifier least often shared or reassigned first.
BORROWER_KEY_PRECEDENCE = ("cnid", "passport", "uscc", "mobile")
assert sorted(BORROWER_KEY_PRECEDENCE) == sorted(IdType.values)
# A borrower's distinct lenders with a loan open at a month's end, counted in these exclusive bands:
# (label, fewest lenders). The tables publish them summed from the top (3+, 5+, 10+).
LENDER_BANDS = (("3-4", 3), ("5-9", 5), ("10+", 10))
FEWEST_LENDERS = LENDER_BANDS[0][1]


@dataclass(frozen=True)
class Period:
    """Whole days in the platform's time zone, both ends included."""

    starts_on: date
    ends_on: date

    @classmethod
    def month_before(cls, today: date) -> "Period":
        last = today.replace(day=1) - timedelta(days=1)
        return cls(last.replace(day=1), last)

    def months(self) -> list["Month"]:
        """The calendar months that the period touches, each cut to the period."""
        months, first = [], self.starts_on
        while first <= self.ends_on:
            end_of_month = first.replace(day=calendar.monthrange(first.year, first.month)[1])
            months.append(Month(f"{first:%Y-%m}", first, min(end_of_month, self.ends_on)))
            first = end_of_month + timedelta(days=1)
        return months

    def bounds(self) -> tuple[datetime, datetime]:
        """The first instant of the period and the first instant after it."""
        zone = timezone.get_current_timezone()
        start = datetime.combine(self.starts_on, time.min, tzinfo=zone)
        return start, datetime.combine(self.ends_on + timedelta(days=1), time.min, tzinfo=zone)


@dataclass(frozen=True)
class Month:
    """A month of a period, as the multi-lending tables count it: ``code`` is YYYY-MM; ``last`` is
    the month's last day, or the period's if the period ends within the month (its "end")."""

    code: str
    first: date
    last: date


@dataclass
class Counts:
    """What ``gather`` read: keyed by institution id (and category or purpose)."""

    flags: dict[tuple[int, str], dict[str, int]] = field(default_factory=dict)  # FLAG_CHANGES, DELAYS
    queries: dict[tuple[int, str], dict[str, int]] = field(default_factory=dict)  # requests, subjects, hits
    inspections: dict[int, dict[str, int]] = field(default_factory=dict)  # inspections, subjects, hits
    uploads: dict[int, dict[str, int]] = field(default_factory=dict)  # uploads, rows, rejected
    # By (month code, sector or ALL): borrowers by LENDER_BANDS label; loans opened and their borrowers.
    multi_lending: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    loans_opened: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)  # loans, borrowers
    lending_queries: dict[tuple[str, int], int] = field(default_factory=dict)  # (month, institution id): records


def gather(period: Period) -> Counts:
    """The period's counts, from six aggregate statements."""
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
    multi_lending, loans_opened = gather_loans(period)
    return Counts(
        multi_lending=multi_lending,
        loans_opened=loans_opened,
        lending_queries=gather_lending_queries(period),
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


# The statement of ``gather_loans``, the same on PostgreSQL and SQLite. Every count is a GROUP BY or
# a window over the loans, and no two large sets are joined (only the few months):
# - keyed: each loan the period may count (open at a month's end, or opened in the period), with
#   its lender's sector and its borrower, the loan's identifier first in BORROWER_KEY_PRECEDENCE;
# - followed: the loans, open at some month's end, of borrowers with at least FEWEST_LENDERS
#   lenders among them (counted by windows), so that only those are followed month by month;
# - borrowers: a row per month and borrower with FEWEST_LENDERS or more lenders at the month's
#   end: its band of LENDER_BANDS, and whether each sector lends to it (in_n for SECTORS[n]);
# - opened: a row per month and borrower of the loans opened in the month, with the sectors that
#   lent to it (in_n) and its loans from each (loans_n).
_LOANS_SQL = """
WITH months (code, first_day, last_day) AS (VALUES {months}),
keyed AS (
    SELECT id, institution_id, sector, opened_on, closed_on, id_type, token FROM (
        SELECT l.id, l.institution_id, CASE WHEN i.sector = '' THEN %(unspecified)s ELSE i.sector END AS sector,
               l.opened_on, l.closed_on, t.id_type, t.token,
               ROW_NUMBER() OVER (PARTITION BY t.loan_id ORDER BY CASE t.id_type {rank} END) AS n
        FROM {token} t
        JOIN {loan} l ON l.id = t.loan_id
        JOIN {institution} i ON i.id = l.institution_id AND i.kind = %(member)s
        WHERE l.opened_on <= %(ends_on)s
          AND (l.closed_on IS NULL OR l.closed_on > %(first_end)s OR l.opened_on >= %(starts_on)s)
    ) ranked WHERE n = 1
),
spans AS (
    SELECT k.*, CASE WHEN ROW_NUMBER() OVER (PARTITION BY id_type, token, institution_id ORDER BY id) = 1
                     THEN 1 ELSE 0 END AS new_lender
    FROM keyed k WHERE opened_on <= %(ends_on)s AND (closed_on IS NULL OR closed_on > %(first_end)s)
),
followed AS (
    SELECT * FROM (SELECT s.*, SUM(new_lender) OVER (PARTITION BY id_type, token) AS lenders FROM spans s) f
    WHERE lenders >= %(fewest)s
),
borrowers AS (
    SELECT m.code AS month, CASE {bands} END AS band, {in_sector}
    FROM followed f JOIN months m ON f.opened_on <= m.last_day AND (f.closed_on IS NULL OR f.closed_on > m.last_day)
    GROUP BY m.code, f.id_type, f.token HAVING COUNT(DISTINCT f.institution_id) >= %(fewest)s
),
opened AS (
    SELECT m.code AS month, {opened_in_sector}
    FROM keyed f JOIN months m ON f.opened_on >= m.first_day AND f.opened_on <= m.last_day
    GROUP BY m.code, f.id_type, f.token
)
SELECT 'multi', month, %(all)s, band, COUNT(*) FROM borrowers GROUP BY month, band
UNION ALL SELECT 'opened', month, %(all)s, 'borrowers', COUNT(*) FROM opened GROUP BY month
{by_sector}
"""
_BY_SECTOR_SQL = """
UNION ALL SELECT 'multi', month, %(sector_{n})s, band, SUM(in_{n}) FROM borrowers GROUP BY month, band
UNION ALL SELECT 'opened', month, %(sector_{n})s, 'borrowers', SUM(in_{n}) FROM opened GROUP BY month
UNION ALL SELECT 'opened', month, %(sector_{n})s, 'loans', SUM(loans_{n}) FROM opened GROUP BY month"""
SECTORS = (*Sector.values, UNSPECIFIED)


def gather_loans(
    period: Period,
) -> tuple[dict[tuple[str, str], dict[str, int]], dict[tuple[str, str], dict[str, int]]]:
    """Borrowers by distinct lenders at each month's end, and loans opened in each month with their
    borrowers, by sector (ALL: every sector at once); only what is not zero (docs/reports.md).

    One statement (``_LOANS_SQL``): no borrower passes through Python. A loan erased by retention
    has no tokens left, hence no borrower, and is not counted.
    """
    months = period.months()
    in_sector = "MAX(CASE WHEN f.sector = %(sector_{n})s THEN 1 ELSE 0 END) AS in_{n}"
    loans_in_sector = "SUM(CASE WHEN f.sector = %(sector_{n})s THEN 1 ELSE 0 END) AS loans_{n}"
    sql = _LOANS_SQL.format(
        months=", ".join(f"(%(month_{n})s, %(first_{n})s, %(last_{n})s)" for n in range(len(months))),
        token=LoanToken._meta.db_table,
        loan=Loan._meta.db_table,
        institution=Institution._meta.db_table,
        rank=" ".join(f"WHEN %(id_type_{n})s THEN {n}" for n in range(len(BORROWER_KEY_PRECEDENCE))),
        bands=" ".join(
            f"WHEN COUNT(DISTINCT f.institution_id) >= %(fewest_{n})s THEN %(band_{n})s"
            for n in reversed(range(len(LENDER_BANDS)))
        ),
        in_sector=", ".join(in_sector.format(n=n) for n in range(len(SECTORS))),
        opened_in_sector=", ".join(f"{in_sector}, {loans_in_sector}".format(n=n) for n in range(len(SECTORS))),
        by_sector="".join(_BY_SECTOR_SQL.format(n=n) for n in range(len(SECTORS))),
    )
    params: dict[str, Any] = {
        "unspecified": UNSPECIFIED,
        "member": InstitutionKind.MEMBER,
        "starts_on": period.starts_on,
        "ends_on": period.ends_on,
        "first_end": months[0].last,
        "fewest": FEWEST_LENDERS,
        "all": ALL,
    }
    for n, month in enumerate(months):
        params |= {f"month_{n}": month.code, f"first_{n}": month.first, f"last_{n}": month.last}
    params |= {f"id_type_{n}": id_type for n, id_type in enumerate(BORROWER_KEY_PRECEDENCE)}
    for n, (band, fewest) in enumerate(LENDER_BANDS):
        params |= {f"band_{n}": band, f"fewest_{n}": fewest}
    params |= {f"sector_{n}": sector for n, sector in enumerate(SECTORS)}
    multi: dict[tuple[str, str], dict[str, int]] = {}
    opened: dict[tuple[str, str], dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for table, month, sector, measure, value in cursor.fetchall():
            if value:
                (multi if table == "multi" else opened).setdefault((month, sector), {})[measure] = int(value)
    return multi, opened


def gather_lending_queries(period: Period) -> dict[tuple[str, int], int]:
    """Query records of lending purposes made in the period, by month (YYYY-MM) and institution."""
    records = (
        QueryRecord.objects.filter(
            day__gte=period.starts_on, day__lte=period.ends_on, purpose__in=list(LENDING_PURPOSES)
        )
        .annotate(month=TruncMonth("day"))
        .values("month", "institution_id")
        .annotate(records=Count("id"))
        .order_by()
    )
    return {(f"{row['month']:%Y-%m}", row["institution_id"]): row["records"] for row in records}


def _whole(row: Any, *names: str, **renamed: str) -> dict[str, int]:
    """The named sums of an aggregate row as integers (a sum over no rows is None, here 0)."""
    names_in_row = {**{name: name for name in names}, **renamed}
    return {name: int(row[column] or 0) for name, column in names_in_row.items()}


def members() -> list[Institution]:
    return list(Institution.objects.filter(kind=InstitutionKind.MEMBER).order_by("code"))
