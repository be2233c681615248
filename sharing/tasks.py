"""The work that runs outside requests: uploads, inspections, reports, and the daily housekeeping."""

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from sharing.choices import JobStatus
from sharing.jobs import INTERNAL_ERROR, TRANSIENT, log_failure, stopped_after

logger = logging.getLogger(__name__)
Result = TypeVar("Result")


@shared_task(acks_late=True, reject_on_worker_lost=True)
def process_upload(upload_id: int) -> str | None:
    """Store an uploaded file's flags, or resume where the last worker left off (see sharing.flags.uploads).

    It runs under the platform's CELERY_TASK_TIME_LIMIT (an hour by default; ten million rows take
    minutes). A task cut off there leaves its job at the last checkpoint, which the stall sweep resumes.
    """
    from sharing.flags import uploads

    upload = uploads.process(upload_id)
    return upload.status if upload is not None else None


@shared_task(time_limit=600, soft_time_limit=590)
def resume_stalled_uploads() -> int:
    """Hand uploads and inspections that have not moved for ``UPLOAD_STALL_MINUTES`` to a worker again.

    A broker redelivers the task of a worker that died, but not every broker does
    so promptly (Redis waits out its visibility timeout; the filesystem broker
    never does); this sweep makes resumption independent of the broker.
    """
    from sharing.models import Inspection, Upload

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
    ones, and erase what tied expired ones to a borrower (``services.apply_retention``)."""
    from sharing.flags import services

    return services.apply_retention()


@shared_task(time_limit=600, soft_time_limit=590)
def prune_idempotency_keys() -> int:
    from sharing.flags import idempotency

    return idempotency.prune()


@shared_task(time_limit=600, soft_time_limit=590)
def prune_usage_counters() -> int:
    """Query counters of past minutes, and of days older than 90."""
    from sharing.matching import quotas

    return quotas.prune()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_inspection(inspection_id: int) -> int:
    """Survey an inspection's file and send its parts to the workers, as a group; returns how many."""
    from celery import group

    from sharing.matching import inspections

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
    from sharing.matching import inspections

    def close() -> None:
        finish_inspection.delay(inspection_id)

    _failing_inspection(inspection_id, lambda: inspections.match_part(inspection_id, number, on_last=close), None)


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=1800, soft_time_limit=1790)
def finish_inspection(inspection_id: int) -> str | None:
    from sharing.matching import inspections

    inspection = _failing_inspection(inspection_id, lambda: inspections.finish(inspection_id), None)
    return inspection.status if inspection is not None else None


def _failing_inspection(inspection_id: int, step: Callable[[], Result], failed: Result) -> Result:
    """Run a step of an inspection; an unexpected error fails the inspection at once (sharing.jobs).

    Transient errors are raised: the parts already matched stay matched, and the stall sweep
    runs the job again for the others.
    """
    from sharing.matching import inspections
    from sharing.models import Inspection

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
    from sharing.reports import jobs as reports

    report = reports.build(report_id)
    return report.status if report is not None else None


@shared_task(time_limit=600, soft_time_limit=590)
def build_monthly_report() -> int | None:
    """Queue the report of the month before (beat: ``REPORT_SCHEDULE``); the id, or None if it exists."""
    from sharing.reports import jobs as reports

    report = reports.schedule_month_before(timezone.localdate())
    return report.pk if report is not None else None
