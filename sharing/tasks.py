"""The work of flags that runs outside requests: uploads, and the daily retention."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from sharing.choices import UploadStatus


@shared_task(acks_late=True, reject_on_worker_lost=True)
def process_upload(upload_id: int) -> str | None:
    """Store an uploaded file's flags, or resume where the last worker left off (see sharing.uploads).

    It runs under the platform's CELERY_TASK_TIME_LIMIT (an hour by default; ten million rows take
    minutes). A task cut off there leaves its job at the last checkpoint, which the stall sweep resumes.
    """
    from sharing import uploads

    upload = uploads.process(upload_id)
    return upload.status if upload is not None else None


@shared_task(time_limit=600, soft_time_limit=590)
def resume_stalled_uploads() -> int:
    """Hand uploads whose checkpoint has not moved for ``UPLOAD_STALL_MINUTES`` to a worker again.

    A broker redelivers the task of a worker that died, but not every broker does
    so promptly (Redis waits out its visibility timeout; the filesystem broker
    never does); this sweep makes resumption independent of the broker.
    """
    from sharing.models import Upload

    cutoff = timezone.now() - timedelta(minutes=settings.UPLOAD_STALL_MINUTES)
    stalled = Upload.objects.filter(
        Q(status=UploadStatus.RUNNING, heartbeat_at__lt=cutoff) | Q(status=UploadStatus.QUEUED, created_at__lt=cutoff)
    ).values_list("pk", flat=True)
    count = 0
    for upload_id in stalled:
        process_upload.delay(upload_id)
        count += 1
    return count


@shared_task(time_limit=3 * 3600, soft_time_limit=3 * 3600 - 10)
def apply_retention() -> tuple[int, int]:
    """Expire flags five years after their event ended and destroy the details of expired and withdrawn ones."""
    from sharing import services

    return services.expire_and_shred()


@shared_task(time_limit=600, soft_time_limit=590)
def prune_idempotency_keys() -> int:
    from sharing import idempotency

    return idempotency.prune()


@shared_task(time_limit=600, soft_time_limit=590)
def prune_usage_counters() -> int:
    """Query counters of past minutes, and of days older than 90."""
    from sharing import quotas

    return quotas.prune()
