"""What the pages of jobs (uploads, inspections, reports) share: how many a list shows, and what a
job's page needs to show its progress and follow it (portal/static/portal/job.js)."""

from django.utils.translation import gettext_lazy

from sharing import heartbeat
from sharing.choices import JobStatus
from sharing.models import Inspection, Upload

LIST_SIZE = 100


def job_statuses() -> dict[str, str]:
    """A job's statuses in the request's language, for the script that follows it (job.js)."""
    return {str(value): str(label) for value, label in JobStatus.choices}


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
    if job.status == JobStatus.FAILED:
        failure = FAILURES.get(job.error_code, gettext_lazy("The job failed."))
    return {
        "finished": job.is_finished,
        "percent": job.percent_done,
        "statuses": job_statuses(),
        "failure": failure,
        "no_worker": heartbeat.waiting_for_a_worker(job.status),
    }
