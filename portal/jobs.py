"""What the pages of jobs (uploads, inspections, reports) share: how many a list shows, and what a
job's page needs to show its progress and follow it (portal/static/portal/job.js)."""

from sharing import heartbeat, messages
from sharing.choices import JobStatus
from sharing.models import Inspection, Upload

LIST_SIZE = 100


def job_statuses() -> dict[str, str]:
    """A job's statuses in the request's language, for the script that follows it (job.js)."""
    return {str(value): str(label) for value, label in JobStatus.choices}


def job_context(job: Upload | Inspection) -> dict[str, object]:
    """What a job's page needs to show its progress and follow it (portal/static/portal/job.js)."""
    return {
        "finished": job.is_finished,
        "percent": job.percent_done,
        "statuses": job_statuses(),
        # Why it failed, in the person's language; the page shows the worker's own (English) words beside it.
        "failure": messages.failure(job.error_code) if job.status == JobStatus.FAILED else None,
        "no_worker": heartbeat.waiting_for_a_worker(job.status),
    }
