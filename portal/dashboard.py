"""A member's dashboard: what the institution shares, asks and has running, for the portal's home.

Each part is computed only for people whose roles see it: contributions and uploads for
contributors and auditors, queries for analysts and auditors, inspections for analysts.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max

from accounts.choices import AuditAction
from accounts.models import AuditEvent, User
from accounts.permissions import FLAG_READERS, INSPECTORS, QUERY_ACTIVITY_READERS, admits
from portal import charts
from sharing.choices import FlagStatus, JobStatus, QueryPurpose
from sharing.models import ContributedCategory, Flag, Inspection, Upload

RECENT = 10
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass
class Dashboard:
    sees_contributions: bool = False
    sees_queries: bool = False
    sees_inspections: bool = False
    active_flags: list[tuple[str, int]] = field(default_factory=list)  # category label, count
    filed_recently: int = 0
    counted_at: datetime | None = None
    query_open_until: datetime | None = None
    may_query: bool = False
    recent_queries: list[tuple[AuditEvent, str]] = field(default_factory=list)  # with the purpose in words
    running_uploads: list[Upload] = field(default_factory=list)
    running_inspections: list[Inspection] = field(default_factory=list)
    latest_inspection: Inspection | None = None

    @property
    def sees_anything(self) -> bool:
        return self.sees_contributions or self.sees_queries or self.sees_inspections

    @property
    def active_total(self) -> int:
        return sum(count for _label, count in self.active_flags)


@dataclass(frozen=True)
class Contributions:
    active: dict[str, int]  # category: active flags
    filed_recently: int
    counted_at: datetime


def contributions(institution_id: int, now: datetime, days: int) -> Contributions:
    """The institution's active flags by category and flags filed in the last ``days`` days.

    Counting them reads every flag of the institution (flags carry no index on status or time, to
    keep uploads fast), so a count is kept for ``DASHBOARD_COUNTS_SECONDS`` in the cache and the
    dashboard says when it was made. docs/performance.md has the figures.
    """
    key = f"dashboard:contributions:{institution_id}:{days}"
    found: Contributions | None = cache.get(key)
    if found is not None:
        return found
    own = Flag.objects.filter(institution_id=institution_id)
    active = own.filter(status=FlagStatus.ACTIVE).values_list("category").annotate(n=Count("id")).order_by()
    counted = Contributions(
        active=dict(active),
        filed_recently=own.filter(created_at__gte=now - timedelta(days=days)).count(),
        counted_at=now,
    )
    cache.set(key, counted, settings.DASHBOARD_COUNTS_SECONDS)
    return counted


def member_dashboard(person: User, now: datetime, days: int = 30) -> Dashboard:
    institution = person.institution
    board = Dashboard(
        sees_contributions=admits(person, FLAG_READERS),
        sees_queries=admits(person, QUERY_ACTIVITY_READERS),
        sees_inspections=admits(person, INSPECTORS),
    )
    if board.sees_contributions:
        counts = contributions(institution.pk, now, days)
        board.active_flags = charts.categories_in_words(counts.active)
        board.filed_recently, board.counted_at = counts.filed_recently, counts.counted_at
        board.running_uploads = list(
            Upload.objects.filter(institution=institution, status__in=UNFINISHED).order_by("-id")[:RECENT]
        )
    if board.sees_queries:
        last = ContributedCategory.objects.filter(institution=institution).aggregate(last=Max("last_contributed_at"))
        if last["last"] is not None:
            board.query_open_until = last["last"] + timedelta(days=settings.MATCH_RECIPROCITY_DAYS)
            board.may_query = board.query_open_until > now
        purposes = dict(QueryPurpose.choices)
        events = AuditEvent.objects.filter(institution=institution, action=AuditAction.QUERY).order_by("-id")
        board.recent_queries = [(event, str(purposes.get(event.purpose, event.purpose))) for event in events[:RECENT]]
    if board.sees_inspections:
        inspections = Inspection.objects.filter(institution=institution)
        board.running_inspections = list(inspections.filter(status__in=UNFINISHED).order_by("-id")[:RECENT])
        board.latest_inspection = (
            inspections.filter(status=JobStatus.SUCCEEDED).select_related("previous").order_by("-id").first()
        )
    return board
