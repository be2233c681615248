"""The portal's pages of shared data: reports and member activity (regulator staff, operators),
the single-borrower query (analysts), uploads and the institution's own flags (contributors,
auditors). Inspections are in ``portal_inspections``. Every view records what the API records.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import record
from accounts.authentication import caller_person, person_holding
from accounts.choices import AuditAction, Role
from accounts.models import User
from accounts.permissions import has_role, reads_whole_reports
from config.forms import show_errors
from config.pagination import newest_first_page
from memberkit import identifiers
from portal import activity, charts, forms
from sharing import heartbeat
from sharing.choices import (
    CONSENT_PURPOSES,
    Category,
    FlagStatus,
    QueryPurpose,
    ReportFormat,
    ReportTrigger,
    UploadStatus,
)
from sharing.filters import FlagFilter
from sharing.flags import services
from sharing.keys import datakeys as keys
from sharing.models import Flag, Inspection, Report, Upload
from sharing.reports import jobs as reports

LIST_SIZE = 100
TREND_MONTHS = 12


def job_statuses() -> dict[str, str]:
    """A job's statuses in the request's language, for the script that follows it (job.js)."""
    return {str(value): str(label) for value, label in UploadStatus.choices}


def _reader(request: HttpRequest) -> User:
    person = caller_person(request)
    if not reads_whole_reports(person):
        raise PermissionDenied
    return person


@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    """The latest reports, and the form that asks for a report of any period."""
    person = _reader(request)
    form = forms.ReportRequestForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        report = reports.request(form.cleaned_data["starts_on"], form.cleaned_data["ends_on"], by=person)
        record(AuditAction.REPORT_REQUEST, request=request, target=report)
        return redirect("portal:report_detail", pk=report.pk)
    latest = list(Report.objects.order_by("-id")[:LIST_SIZE])
    record(AuditAction.REPORT_LIST, request=request)
    return render(request, "portal/report_list.html", {"reports": latest, "form": form})


@login_required
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _reader(request)
    report = get_object_or_404(Report, pk=pk)
    context: dict[str, object] = {
        "report": report,
        "formats": ReportFormat.values,
        "finished": report.is_finished,
        "percent": report.percent_done,
        "statuses": job_statuses(),
        "no_worker": heartbeat.waiting_for_a_worker(report.status),
    }
    if report.status == UploadStatus.SUCCEEDED and report.figures is not None:
        monthly = (
            Report.objects.filter(
                trigger=ReportTrigger.SCHEDULED, status=UploadStatus.SUCCEEDED, ends_on__lte=report.ends_on
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
    record(AuditAction.REPORT_VIEW, request=request, target=report)
    return render(request, "portal/report_detail.html", context)


@login_required
def phone_lengths(request: HttpRequest) -> JsonResponse:
    """What the browser needs of phonenumbers' metadata to normalize mobile numbers as the Python
    standard does (portal/static/portal/identifiers.js)."""
    response = JsonResponse({"codes": identifiers.phone_table()})
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
def query(request: HttpRequest) -> HttpResponse:
    """One borrower, looked up from the browser: the page keys the identifier into its member token
    (portal/static/portal/query.js) and sends only that to ``POST /api/v1/queries``."""
    person_holding(request, Role.ANALYST)
    words = {
        "categories": {str(value): str(label) for value, label in Category.choices},
        "yes": _("Yes"),
        "no": _("No"),
        "hit": _("Other members have flagged this borrower."),
        "no_hit": _("No other member has flagged this borrower."),
        "own": _("Your own flags"),
        "reasons": identifier_reasons(_("The lookup failed; please try again.")),
    }
    context = {
        "id_types": [(value, value.label) for value in forms.BROWSER_TYPES],
        "purposes": QueryPurpose.choices,
        "consent_purposes": sorted(CONSENT_PURPOSES),
        "words": words,
    }
    return render(request, "portal/query.html", context)


def identifier_reasons(other: str) -> dict[str, str]:
    """Why the page could not key an identifier (identifiers.js's reasons), in the person's language."""
    return {
        "bad_length": _("The identifier has the wrong number of characters."),
        "bad_characters": _("The identifier has characters it cannot have."),
        "bad_checksum": _("The check character is wrong: please check the identifier."),
        "bad_date": _("The birth date in this resident identity number is not possible."),
        "not_mobile": _("This is not a Chinese mobile number."),
        "unsupported": _("The browser cannot read this number as typed; use the member client."),
        "bad_key": _("The key file must hold the 64 hexadecimal characters of the consortium key."),
        "other": other,
    }


def _flag_reader(request: HttpRequest) -> User:
    return person_holding(request, Role.CONTRIBUTOR, Role.AUDITOR)


@login_required
def uploads(request: HttpRequest) -> HttpResponse:
    """The institution's uploads of flags, and (for contributors) the form that sends a new one."""
    person = _flag_reader(request)
    recent = Upload.objects.filter(institution=person.institution).order_by("-id")[:LIST_SIZE]
    record(AuditAction.UPLOAD_LIST, request=request)
    context = {"uploads": list(recent), "can_upload": has_role(person, Role.CONTRIBUTOR)}
    return render(request, "portal/uploads.html", context)


@login_required
def upload_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One upload of the caller's own institution (another's is 404), following its progress."""
    person = _flag_reader(request)
    upload = get_object_or_404(Upload, pk=pk, institution=person.institution)
    record(AuditAction.UPLOAD_VIEW, request=request, target=upload)
    return render(request, "portal/upload_detail.html", {"upload": upload, **job_context(upload)})


# Why a job failed, in the person's language; the worker's own words (English, with the line at
# fault) are shown beside it.
FAILURES = {
    "not_utf8": gettext_lazy("The file is not UTF-8 text: save it as UTF-8 and send it again."),
    "empty_file": gettext_lazy("The file holds no rows."),
    "bad_csv": gettext_lazy("The file cannot be read as CSV."),
    "too_many_rows": gettext_lazy("The file holds more rows than one job may have: split it."),
    "missing_column": gettext_lazy("The file's header lacks a required column."),
    "unknown_column": gettext_lazy("The file's header names a column this kind of file does not have."),
    "duplicate_column": gettext_lazy("The file's header names a column twice."),
    "too_many_attempts": gettext_lazy(
        "The platform could not finish the job after several attempts; send the file again, or tell the operator."
    ),
}


def job_context(job: Upload | Inspection) -> dict[str, object]:
    """What a job's page needs to show its progress and follow it (portal/static/portal/job.js)."""
    failure = None
    if job.status == UploadStatus.FAILED:
        failure = FAILURES.get(job.error_code, gettext_lazy("The job failed."))
    return {
        "finished": job.is_finished,
        "percent": job.percent_done,
        "statuses": job_statuses(),
        "failure": failure,
        "no_worker": heartbeat.waiting_for_a_worker(job.status),
    }


ACTIVITY_DAYS = 30


@login_required
def institutions(request: HttpRequest) -> HttpResponse:
    """Regulator staff and operators: every member's recent contributions against its queries."""
    _reader(request)
    rows = activity.member_activity(timezone.now(), ACTIVITY_DAYS)
    record(AuditAction.INSTITUTION_LIST, request=request)
    return render(request, "portal/institutions.html", {"activity": rows, "days": ACTIVITY_DAYS})


FLAGS_PAGE_SIZE = 50


@login_required
def flags(request: HttpRequest) -> HttpResponse:
    """The institution's own flags, newest first, with the API's filters; never their details."""
    person = _flag_reader(request)
    found = FlagFilter(request.GET, queryset=Flag.objects.filter(institution=person.institution).order_by("-id"))
    page = newest_first_page(request, found.qs.defer("details", "token"), FLAGS_PAGE_SIZE)
    record(AuditAction.FLAG_LIST, request=request)
    context = {
        "filters": found.form,
        "flags": page.rows,
        "older": page.older,
        "query": page.query,
        "can_file": has_role(person, Role.CONTRIBUTOR),
    }
    return render(request, "portal/flags.html", context)


@login_required
def flag_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the institution's flags with its details; contributors resolve or withdraw it here."""
    person = _flag_reader(request)
    flag = get_object_or_404(Flag.objects.select_related("details_key"), pk=pk, institution=person.institution)
    can_change = has_role(person, Role.CONTRIBUTOR)
    shown = {name: form() for name, form in forms.FLAG_FORMS.items()}
    if request.method == "POST":
        change = request.POST.get("change", "")
        if not can_change or change not in forms.FLAG_FORMS:
            raise PermissionDenied
        form = shown[change] = forms.FLAG_FORMS[change](request.POST)
        if form.is_valid():
            status = FlagStatus.RESOLVED if change == "resolve" else FlagStatus.WITHDRAWN
            try:
                changed, action = services.change(flag, status, **form.cleaned_data)
            except ValidationError as error:
                show_errors(form, error)
            else:
                record(action, request=request, target=changed)
                return redirect("portal:flag_detail", pk=flag.pk)
    record(AuditAction.FLAG_VIEW, request=request, target=flag)
    context = {
        "flag": flag,
        "details": keys.details_of(flag),
        "can_change": can_change,
        "resolve": shown["resolve"],
        "withdraw": shown["withdraw"],
    }
    return render(request, "portal/flag_detail.html", context)
