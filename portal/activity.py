"""What each member has done lately, for regulator staff and operators: contributions against
queries. The page, and the selector that counts them."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.authentication import person_holding
from accounts.choices import AuditAction, InstitutionKind
from accounts.models import AuditEvent, Institution
from accounts.permissions import MEMBER_ACTIVITY_READERS
from portal.auditing import audited
from sharing.models import ContributedCategory, Flag

ACTIVITY_DAYS = 30


@login_required
@audited(AuditAction.INSTITUTION_LIST)
def institutions(request: HttpRequest) -> HttpResponse:
    """Regulator staff and operators: every member's recent contributions against its queries."""
    person_holding(request, MEMBER_ACTIVITY_READERS)
    rows = member_activity(timezone.now(), ACTIVITY_DAYS)
    return render(request, "portal/institutions.html", {"activity": rows, "days": ACTIVITY_DAYS})


@dataclass(frozen=True)
class Activity:
    institution: Institution
    flags_filed: int
    subjects_asked: int
    queries: int
    last_contribution: datetime | None

    @property
    def subjects_per_flag(self) -> float | None:
        return self.subjects_asked / self.flags_filed if self.flags_filed else None


def member_activity(now: datetime, days: int = 30) -> list[Activity]:
    """Every member's flags filed and subjects asked about in the last ``days`` days, and when it
    last contributed: the counts of the platform's own records, not of a published report (so for
    regulator staff and operators only, who may read the audit trail whole)."""
    since = now - timedelta(days=days)
    members = list(Institution.objects.filter(kind=InstitutionKind.MEMBER).order_by("code"))
    filed = dict(
        Flag.objects.filter(created_at__gte=since)
        .values_list("institution_id")
        .annotate(n=Count("id"))
        .values_list("institution_id", "n")
        .order_by()
    )
    asked: dict[int, tuple[int, int]] = {
        pk: (queries, int(subjects or 0))
        for pk, queries, subjects in AuditEvent.objects.filter(action=AuditAction.QUERY, occurred_at__gte=since)
        .values_list("institution_id")
        .annotate(queries=Count("id"), subjects=Sum("subjects_count"))
        .values_list("institution_id", "queries", "subjects")
        .order_by()
    }
    last = dict(
        ContributedCategory.objects.values_list("institution_id")
        .annotate(last=Max("last_contributed_at"))
        .values_list("institution_id", "last")
        .order_by()
    )
    return [
        Activity(
            institution,
            filed.get(institution.pk, 0),
            asked.get(institution.pk, (0, 0))[1],
            asked.get(institution.pk, (0, 0))[0],
            last.get(institution.pk),
        )
        for institution in members
    ]
