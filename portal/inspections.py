"""The portal's inspection pages: an analyst starts a post-loan self-inspection from a file of
member tokens, follows it, reads its counts and what is new since the portfolio's last one, and
downloads its results. The file goes to ``POST /api/v1/inspections`` from the page, as the member
client sends it; these views only read."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.authentication import person_holding
from accounts.choices import AuditAction
from accounts.permissions import INSPECTORS
from portal import charts
from portal.auditing import audit, audited
from portal.jobs import LIST_SIZE, job_context
from sharing.choices import QueryPurpose
from sharing.models import Inspection, InspectionHit

NEW_HITS_SHOWN = 50


@login_required
@audited(AuditAction.INSPECTION_LIST)
def inspections(request: HttpRequest) -> HttpResponse:
    """The institution's inspections, newest first, and the form that starts one."""
    person = person_holding(request, INSPECTORS)
    own = Inspection.objects.filter(institution=person.institution)
    context = {
        "inspections": list(own.order_by("-id")[:LIST_SIZE]),
        "portfolios": list(own.order_by("portfolio").values_list("portfolio", flat=True).distinct()[:LIST_SIZE]),
        "purposes": QueryPurpose.choices,
    }
    return render(request, "portal/inspections.html", context)


@login_required
@audited(AuditAction.INSPECTION_VIEW)
def inspection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One inspection of the caller's own institution (another's is 404): progress, counts by
    category, and the first subjects hit that were not hit in the portfolio's previous inspection."""
    person = person_holding(request, INSPECTORS)
    inspection = get_object_or_404(Inspection.objects.select_related("previous"), pk=pk, institution=person.institution)
    new_hits = (
        InspectionHit.objects.filter(inspection=inspection, new=True).order_by("row", "category")[:NEW_HITS_SHOWN]
        if inspection.previous_id
        else []
    )
    audit(request, target=inspection)
    context = {
        "inspection": inspection,
        "by_category": charts.categories_in_words(inspection.counts_by_category),
        "new_hits": list(new_hits),
        "new_hits_shown": NEW_HITS_SHOWN,
        **job_context(inspection),
    }
    return render(request, "portal/inspection_detail.html", context)
