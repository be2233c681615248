"""``python -m memberkit upload``: send a file of flags, follow its job, fetch its error report.

Running the same command twice never makes two jobs. The ``Idempotency-Key``
is derived from the file's SHA-256, so after an interruption, while sending or
while polling, the same command sends the same key: the platform answers with
the job it already accepted (``Idempotent-Replayed: true``) and the client
carries on polling it. The platform keeps keys for a day; after that the same
file makes a new job, which is harmless since flags are stored by reference.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from memberkit import api
from memberkit.jobs import FileJob, JobOptions, accepted, follow, format_of, send_job
from memberkit.problems import ApiError
from memberkit.scanning import refuse_file
from memberkit.session import Screen, connect, explain

UPLOADS_PATH = "/api/v1/uploads"


@dataclass(frozen=True, kw_only=True)
class Options(JobOptions):
    """The command line, as values a test or another program can pass without argparse."""

    errors: Path | None = None

    @property
    def errors_path(self) -> Path:
        return self.errors or self.file.with_name(self.file.name + ".upload-errors.csv")


@dataclass(frozen=True, kw_only=True)
class Job(FileJob):
    """An upload job as the platform reports it."""

    created: int
    updated: int
    superseded: int

    @classmethod
    def from_answer(cls, answer: api.Answer) -> "Job":
        try:
            data, common = FileJob.read(answer)
            return cls(
                **common,
                created=int(data.get("created_count") or 0),
                updated=int(data.get("updated_count") or 0),
                superseded=int(data.get("superseded_count") or 0),
            )
        except (KeyError, TypeError, ValueError):
            raise ApiError("the platform's answer is not an upload job; is --url the Riskshare platform?") from None

    @property
    def rows(self) -> int:
        return self.rows_total if self.rows_total is not None else self.rows_done


def idempotency_key(digest: str, fields: Mapping[str, str]) -> str:
    """``upload-sha256-<hex>``: the same content always gets the same key, whatever the run."""
    return f"upload-sha256-{digest}"


def upload(client: api.Client, options: Options, screen: Screen) -> tuple[Job, Path | None]:
    """Send the file (or find the job it made before), follow the job to its end, fetch its error report.

    Returns the finished job and where its report was written (None if no row
    was rejected or superseded).
    """
    if not options.file.is_file():
        raise ValueError(f"no such file: {options.file}")
    file_format = format_of(options.file, options.file_format)
    refuse_file(options.file, file_format, "reference")

    try:
        job = send_job(
            client,
            UPLOADS_PATH,
            options.file,
            {"format": file_format},
            idempotency_key,
            screen,
            Job.from_answer,
            "upload",
            "this file",
        )
    except ApiError as error:
        if error.code == "idempotency_key_reused":
            error.add_note(
                "The same content was uploaded within the last day as another format; "
                "its flags are stored already. Upload it with its first format to follow that job."
            )
        raise
    with accepted("upload", job):
        job = follow(client, job, options.poll_seconds, screen, Job.from_answer, _processing)
        report = None
        if job.rejected or job.superseded:
            report = options.errors_path
            client.download(job.errors_url, report)
    return job, report


def _processing(job: Job) -> str:
    return (
        f"{job.rows_done:,} of {job.rows:,} rows: "
        f"{job.created:,} created, {job.updated:,} updated, {job.rejected:,} rejected"
    )


def run(options: Options, environ: Mapping[str, str] = os.environ) -> int:
    """The command: 0 when every row was stored, 1 when some were rejected, 2 when it failed."""
    screen = Screen(options.quiet)
    try:
        client = connect(options, environ, screen, "the file")
        job, report = upload(client, options, screen)
    except (ApiError, OSError, ValueError) as error:
        screen.note(explain(error))
        return 2
    except KeyboardInterrupt:
        screen.note("interrupted: run the same command again to resume; the file will not be stored twice")
        return 2
    screen.bar.break_line()
    summary = (
        f"upload {job.id} {job.status}: {job.rows:,} rows: {job.created:,} created, {job.updated:,} updated, "
        f"{job.superseded:,} superseded, {job.rejected:,} rejected"
    )
    print(summary + (f" (see {report})" if report else ""))
    if job.status != "succeeded":
        screen.note(f"error: upload {job.id} failed: {job.failure}")
        return 2
    return 1 if job.rejected else 0
