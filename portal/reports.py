"""The portal's report pages (regulator staff and operators): the latest reports, the form that asks
for a report of any period, and one report drawn as tables, bars and monthly trends."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.authentication import person_holding
from accounts.choices import AuditAction
from accounts.permissions import WHOLE_REPORT_READERS
from portal import charts, forms
from portal.auditing import audit, audited
from portal.jobs import LIST_SIZE, job_statuses
from sharing import heartbeat, tasks
from sharing.choices import JobStatus, ReportFormat, ReportTrigger
from sharing.models import Report

TREND_MONTHS = 12


@login_required
@audited(AuditAction.REPORT_LIST)
def report_list(request: HttpRequest) -> HttpResponse:
    """The latest reports, and the form that asks for a report of any period."""
    person = person_holding(request, WHOLE_REPORT_READERS)
    form = forms.ReportRequestForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        report = tasks.request_report(form.cleaned_data["starts_on"], form.cleaned_data["ends_on"], by=person)
        audit(request, action=AuditAction.REPORT_REQUEST, target=report)
        return redirect("portal:report_detail", pk=report.pk)
    latest = list(Report.objects.order_by("-id")[:LIST_SIZE])
    return render(request, "portal/report_list.html", {"reports": latest, "form": form})


@login_required
@audited(AuditAction.REPORT_VIEW)
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person_holding(request, WHOLE_REPORT_READERS)
    report = get_object_or_404(Report, pk=pk)
    audit(request, target=report)
    context: dict[str, object] = {
        "report": report,
        "formats": ReportFormat.values,
        "finished": report.is_finished,
        "percent": report.percent_done,
        "statuses": job_statuses(),
        "no_worker": heartbeat.waiting_for_a_worker(report.status),
    }
    if report.status == JobStatus.SUCCEEDED and report.figures is not None:
        monthly = (
            Report.objects.filter(
                trigger=ReportTrigger.SCHEDULED, status=JobStatus.SUCCEEDED, ends_on__lte=report.ends_on
            )
            .order_by("-ends_on")
            .values_list("starts_on", "figures")[:TREND_MONTHS]
        )
        months = [(f"{starts:%Y-%m}", figures) for starts, figures in reversed(list(monthly)) if figures is not None]
        trend_flags, trend_subjects = charts.trend(months)
        context |= {
            "by_category": charts.new_flags_by_category(report.figures),
            "by_sector": charts.new_flags_by_sector(report.figures),
            "trend_flags": trend_flags,
            "trend_subjects": trend_subjects,
            "tables": charts.tables(report.figures),
            "notes": report.figures["notes"],
        }
    return render(request, "portal/report_detail.html", context)
