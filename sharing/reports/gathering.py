"""Regulators' reports, first half: the counts of a period, read in a few aggregate statements.

``gather`` reads the database: one pass over the flags, one over the period's query events,
one each over inspections and uploads; ``sharing.reports.publishing`` makes the tables of them.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.choices import AuditAction, InstitutionKind
from accounts.models import AuditEvent, Institution
from sharing.choices import FlagStatus, JobStatus
from sharing.models import Flag, Inspection, Upload

ALL = "all"
UNSPECIFIED = "unspecified"  # the sector of a member that has none recorded
# How long after the event a flag was filed, in days: (label, most days or None for no bound).
DELAYS = (("0-30", 30), ("31-90", 90), ("91-180", 180), ("181-365", 365), ("366+", None))
FLAG_CHANGES = ("new", "resolved", "expired", "withdrawn")


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
