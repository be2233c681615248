"""Regulators' reports as jobs: requested or scheduled, built by a worker, stored with signed files.

``create`` records a report (``sharing.tasks.request_report`` hands it to a worker once the request
commits); ``build`` does the work (``gathering`` and ``publishing`` for the figures, ``files`` for the
files), reporting its steps as it goes, and stores figures and files in one transaction at the end,
so a report is either complete or has nothing.
"""

import logging
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import record
from accounts.choices import AuditAction, AuditOutcome
from accounts.models import User
from sharing.choices import JobStatus, ReportFormat, ReportTrigger
from sharing.jobs import INTERNAL_ERROR, log_failure
from sharing.messages import english, message
from sharing.models import Report, ReportFile
from sharing.reports import files as report_files
from sharing.reports import gathering as reporting
from sharing.reports import publishing

logger = logging.getLogger(__name__)

REPORT_MAX_DAYS = 5 * 366  # a report spans at most five years: the flags' retention
# gather; publish; the whole report's files; each member's slice (counted as one step)
STEPS = 4


def check_period(starts_on: date, ends_on: date) -> None:
    """A report's period: both days included, over by today, at most ``REPORT_MAX_DAYS`` long."""
    if starts_on > ends_on:
        raise ValidationError({"ends_on": ValidationError(message("end_before_start"), "end_before_start")})
    if ends_on > timezone.localdate():
        raise ValidationError({"ends_on": ValidationError(message("future_date", "ends_on"), "future_date")})
    if (ends_on - starts_on).days >= REPORT_MAX_DAYS:
        too_long = message("period_too_long", days=REPORT_MAX_DAYS)
        raise ValidationError({"ends_on": ValidationError(too_long, "period_too_long")})


def create(starts_on: date, ends_on: date, *, by: User | None, trigger: str = ReportTrigger.REQUESTED) -> Report:
    """A new report of the period, queued; ``sharing.tasks`` sends it to a worker (``request_report``)."""
    return Report.objects.create(
        starts_on=starts_on, ends_on=ends_on, trigger=trigger, requested_by=by, steps_total=STEPS
    )


def schedule_month_before(today: date) -> Report | None:
    """The scheduled report of the month before ``today``, queued, unless it exists already (beat may repeat)."""
    period = reporting.Period.month_before(today)
    try:
        with transaction.atomic():
            return create(period.starts_on, period.ends_on, by=None, trigger=ReportTrigger.SCHEDULED)
    except IntegrityError:
        return None


def build(report_id: int) -> Report | None:
    """Build a queued report; a report already built or being built by another worker is left alone."""
    with transaction.atomic():
        report = Report.objects.select_for_update(skip_locked=True).filter(pk=report_id).first()
        if report is None or report.status == JobStatus.SUCCEEDED:
            return report
        report.status, report.started_at, report.steps_done = JobStatus.RUNNING, timezone.now(), 0
        report.error_code, report.error = "", ""
        report.save(update_fields=["status", "started_at", "steps_done", "error_code", "error"])
    try:
        _build(report)
    except Exception as error:
        # Every error fails the report at once, a lost connection too: no sweep resumes a report, and one
        # requested again starts from nothing anyway. The log has the type and frames, never the message.
        reference = log_failure(logger, f"report {report.pk} stopped", error)
        with transaction.atomic():  # the outcome and its audit event commit together
            Report.objects.filter(pk=report.pk).exclude(status=JobStatus.SUCCEEDED).update(
                status=JobStatus.FAILED,
                finished_at=timezone.now(),
                error_code=INTERNAL_ERROR,
                error=english("internal_error", "report", reference=reference),
            )
            record(AuditAction.REPORT_BUILD, target=report, outcome=AuditOutcome.FAILED, reason=INTERNAL_ERROR)
        report.refresh_from_db()
        return report
    report.refresh_from_db()
    return report


def _build(report: Report) -> None:
    period = reporting.Period(report.starts_on, report.ends_on)
    counts = reporting.gather(period)
    _step(report)
    institutions = reporting.members()
    figures = publishing.publish(period, counts, institutions)
    _step(report)
    files = [_file(report, None, figures, file_format) for file_format in ReportFormat.values]
    _step(report)
    for institution in institutions:
        own = publishing.member_slice(figures, institution.code)
        files += [_file(report, institution.pk, own, file_format) for file_format in ReportFormat.values]
    with transaction.atomic():
        if Report.objects.select_for_update().get(pk=report.pk).status == JobStatus.SUCCEEDED:
            return  # another worker, given the same report again, finished first
        ReportFile.objects.filter(report=report).delete()
        ReportFile.objects.bulk_create(files)
        Report.objects.filter(pk=report.pk).update(
            figures=figures, status=JobStatus.SUCCEEDED, steps_done=STEPS, finished_at=timezone.now()
        )
        record(AuditAction.REPORT_BUILD, target=report)  # in the same transaction as the outcome


def _file(report: Report, institution_id: int | None, figures: dict[str, object], file_format: str) -> ReportFile:
    content = report_files.render(figures, file_format)
    return ReportFile(
        report=report,
        institution_id=institution_id,
        file_format=file_format,
        content=content,
        sha256=report_files.sha256(content),
        signature=report_files.sign(content),
    )


def _step(report: Report) -> None:
    report.steps_done += 1
    Report.objects.filter(pk=report.pk).update(steps_done=report.steps_done)
