"""The portal's inspection pages: an analyst starts a post-loan self-inspection from a file of
member tokens (with the thresholds that make a jump in a subject's multi-lender figures new),
follows it, reads its counts, the first subjects' figures and what is new since the portfolio's
last one, and downloads its results. The file goes to ``POST /api/v1/inspections`` from the page,
as the member client sends it; these views only read."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.authentication import person_holding
from accounts.choices import AuditAction
from accounts.permissions import INSPECTORS
from memberkit.vocabulary import LENDING_FIGURES
from portal import charts, lending_figures
from portal.auditing import audit, audited
from portal.jobs import LIST_SIZE, job_context
from sharing.choices import QueryPurpose
from sharing.messages import message
from sharing.models import Inspection, InspectionHit, InspectionLending

NEW_HITS_SHOWN = 50
FIGURES_SHOWN = 50


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
        "thresholds": lending_figures.THRESHOLDS,
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
        **_lending_context(inspection),
        **job_context(inspection),
    }
    return render(request, "portal/inspection_detail.html", context)


def _lending_context(inspection: Inspection) -> dict[str, object]:
    """The multi-lender part of an inspection's page: why there are no figures, or the first subjects'
    figures (those new since the previous inspection first), with the thresholds that made them new."""
    if inspection.lending_note:
        note = message(inspection.lending_note, days=settings.MATCH_RECIPROCITY_DAYS)
        return {"lending_note": note, "figure_rows": [], "figure_labels": []}
    rows = InspectionLending.objects.filter(inspection=inspection).order_by("-new", "row")[:FIGURES_SHOWN]
    figure_rows = [{"correlation_id": row.correlation_id, "values": _in_words(row), "new": row.new} for row in rows]
    thresholds = [
        (label, inspection.lending_thresholds[name])
        for name, label in lending_figures.THRESHOLDS
        if name in inspection.lending_thresholds
    ]
    return {
        "lending_note": None,
        "figure_rows": figure_rows,
        "figure_labels": list(lending_figures.LABELS.values()),
        "figures_shown": FIGURES_SHOWN,
        "thresholds": thresholds,
    }


def _in_words(row: InspectionLending) -> list[object]:
    """A subject's figures in the order of their labels: the counts, and the band by its name."""
    return [
        row.get_open_amount_band_display() if name == "open_amount_band" else getattr(row, name)
        for name in LENDING_FIGURES
    ]
