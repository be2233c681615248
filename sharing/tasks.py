"""The work that runs outside requests: uploads, inspections, reports, and the daily housekeeping.

This is the layer above the domain packages that owns enqueueing: the API and the portal call
``request_report`` (and send ``process_upload`` or ``run_inspection`` once their request commits);
the domain packages never import this module. Importing it connects the workers' heartbeat to
Celery's signals (``sharing.heartbeat``): every worker imports it at start to find its tasks.
"""

import logging
from collections.abc import Callable
from datetime import date, timedelta
from typing import TypeVar

from celery import group, shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from sharing import heartbeat  # noqa: F401  (connects the workers' heartbeat to Celery's signals)
from sharing.choices import JobStatus, ReportTrigger, UploadKind
from sharing.flags import idempotency, services, uploads
from sharing.jobs import INTERNAL_ERROR, TRANSIENT, log_failure
from sharing.loans import services as loans
from sharing.loans.uploads import LOANS
from sharing.matching import inspections, quotas, records
from sharing.messages import stopped_after
from sharing.models import Inspection, Report, Upload
from sharing.reports import jobs as reports

logger = logging.getLogger(__name__)
Result = TypeVar("Result")

# What each kind of upload holds (sharing.flags.uploads.Contribution), by Upload.kind.
CONTRIBUTIONS: dict[str, uploads.Contribution] = {
    UploadKind.FLAGS: uploads.FLAGS,
    UploadKind.LOANS: LOANS,
}


@shared_task(acks_late=True, reject_on_worker_lost=True)
def process_upload(upload_id: int) -> str | None:
    """Store an uploaded file's records (flags or loans, by its kind), or resume where the last worker left off
    (see sharing.flags.uploads).

    It runs under the platform's CELERY_TASK_TIME_LIMIT (an hour by default; ten million rows take
    minutes). A task cut off there leaves its job at the last checkpoint, which the stall sweep resumes.
    """

    kind = Upload.objects.filter(pk=upload_id).values_list("kind", flat=True).first()
    if kind is None:
        return None
    upload = uploads.process(upload_id, CONTRIBUTIONS[kind])
    return upload.status if upload is not None else None


@shared_task(time_limit=600, soft_time_limit=590)
def resume_stalled_uploads() -> int:
    """Hand uploads and inspections that have not moved for ``UPLOAD_STALL_MINUTES`` to a worker again.

    A broker redelivers the task of a worker that died, but not every broker does
    so promptly (Redis waits out its visibility timeout; the filesystem broker
    never does); this sweep makes resumption independent of the broker.
    """

    cutoff = timezone.now() - timedelta(minutes=settings.UPLOAD_STALL_MINUTES)
    stalled = Q(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff) | Q(status=JobStatus.QUEUED, created_at__lt=cutoff)
    count = 0
    for upload_id in Upload.objects.filter(stalled).values_list("pk", flat=True):
        process_upload.delay(upload_id)
        count += 1
    # An inspection's parts that are done stay done: running it again dispatches only the others.
    for inspection_id in Inspection.objects.filter(stalled).values_list("pk", flat=True):
        run_inspection.delay(inspection_id)
        count += 1
    return count


@shared_task(time_limit=3 * 3600, soft_time_limit=3 * 3600 - 10)
def apply_retention() -> tuple[int, int, int]:
    """Expire flags five years after their event ended, destroy the details of expired and withdrawn
    ones, and erase what tied expired ones to a borrower (``services.apply_retention``); erase loans five
    years after they closed (``sharing.loans.services.apply_retention``); delete query records two years
    old (``sharing.matching.records.apply_retention``). Returns the flags' counts."""
    retention = services.apply_retention()
    loans.apply_retention()
    records.apply_retention()
    return retention


@shared_task(time_limit=600, soft_time_limit=590)
def prune_idempotency_keys() -> int:
    return idempotency.prune()


@shared_task(time_limit=600, soft_time_limit=590)
def prune_usage_counters() -> int:
    """Query counters of past minutes, and of days older than 90."""
    return quotas.prune()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_inspection(inspection_id: int) -> int:
    """Survey an inspection's file and send its parts to the workers, as a group; returns how many."""
    nothing: list[int] = []
    parts = _failing_inspection(inspection_id, lambda: inspections.start(inspection_id), nothing)
    if parts:
        group(match_inspection_part.s(inspection_id, number) for number in parts).apply_async()
    else:  # every part was matched, but the job was not closed (its last worker died after committing)
        finish_inspection.delay(inspection_id)
    return len(parts)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def match_inspection_part(inspection_id: int, number: int) -> None:
    """Match one part; the worker that commits the last one enqueues ``finish_inspection``."""

    def close() -> None:
        finish_inspection.delay(inspection_id)

    _failing_inspection(inspection_id, lambda: inspections.match_part(inspection_id, number, on_last=close), None)


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=1800, soft_time_limit=1790)
def finish_inspection(inspection_id: int) -> str | None:
    inspection = _failing_inspection(inspection_id, lambda: inspections.finish(inspection_id), None)
    return inspection.status if inspection is not None else None


def _failing_inspection(inspection_id: int, step: Callable[[], Result], failed: Result) -> Result:
    """Run a step of an inspection; an unexpected error fails the inspection at once (sharing.jobs).

    Transient errors are raised: the parts already matched stay matched, and the stall sweep
    runs the job again for the others.
    """
    try:
        return step()
    except TRANSIENT:
        raise
    except Exception as error:
        reference = log_failure(logger, f"inspection {inspection_id} stopped", error)
        rows = Inspection.objects.filter(pk=inspection_id).values_list("rows_done", flat=True).first() or 0
        inspections.finish(inspection_id, failed=(INTERNAL_ERROR, stopped_after(rows, None, reference)))
        return failed


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=3 * 3600, soft_time_limit=3 * 3600 - 10)
def build_report(report_id: int) -> str | None:
    """Build a requested or scheduled report (sharing.reports.jobs)."""
    report = reports.build(report_id)
    return report.status if report is not None else None


@shared_task(time_limit=600, soft_time_limit=590)
def build_monthly_report() -> int | None:
    """Queue the report of the month before (beat: ``REPORT_SCHEDULE``); the id, or None if it exists."""
    report = reports.schedule_month_before(timezone.localdate())
    if report is None:
        return None
    _build_after_commit(report)
    return report.pk


def request_report(starts_on: date, ends_on: date, *, by: User | None) -> Report:
    """A new report of the period, asked for by ``by`` (None for a key), built by a worker once the request commits."""
    report = reports.create(starts_on, ends_on, by=by, trigger=ReportTrigger.REQUESTED)
    _build_after_commit(report)
    return report


def _build_after_commit(report: Report) -> None:
    transaction.on_commit(lambda: build_report.delay(report.pk))
