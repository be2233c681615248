"""``python -m memberkit upload``: send a file of flags (or of loans), follow its job, fetch its error report.

Running the same command twice never makes two jobs. The ``Idempotency-Key``
is derived from the file's SHA-256 (and, for a file of loans, from its kind), so
after an interruption, while sending or while polling, the same command sends the
same key: the platform answers with the job it already accepted
(``Idempotent-Replayed: true``) and the client carries on polling it. The
platform keeps keys for a day; after that the same file makes a new job, which is
harmless since flags and loans are stored by reference.

The error report lists rejected and superseded rows, and stored rows that share a
token with another of the member's own records (``shared_token``, a warning). The
job counts the first two but not the warnings, so a report is fetched for every job
that succeeded (and for one that failed with rows refused), and kept only if it has a line.
"""

import csv
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from memberkit import api
from memberkit.jobs import FileJob, JobOptions, accepted, follow, format_of, send_job
from memberkit.problems import ApiError
from memberkit.scanning import refuse_file
from memberkit.session import Screen, connect, explain
from memberkit.vocabulary import UPLOAD_KINDS

UPLOADS_PATH = "/api/v1/uploads"
SHARED_TOKEN = "shared_token"  # noqa: S105 - a report line's code, not a secret
# The labels of each kind's rows, checked for identifiers before the file is sent: all of them are stored in clear.
LABEL_COLUMNS = {"flags": ("reference",), "loans": ("reference", "consent_reference")}
NOTES = {
    "missing_scope": "An institution admin can issue an API key with the flags:write scope (loans:write for loans).",
}


@dataclass(frozen=True, kw_only=True)
class Options(JobOptions):
    """The command line, as values a test or another program can pass without argparse."""

    errors: Path | None = None
    kind: str = "flags"

    @property
    def errors_path(self) -> Path:
        return self.errors or self.file.with_name(self.file.name + ".upload-errors.csv")

    def fields(self, file_format: str) -> dict[str, str]:
        """The form sent with the file; a file of flags sends no kind, as before kinds existed."""
        if self.kind not in UPLOAD_KINDS:
            raise ValueError(f"the kind of file is one of {', '.join(UPLOAD_KINDS)}, not {self.kind!r}")
        return {"format": file_format} if self.kind == "flags" else {"format": file_format, "kind": self.kind}


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
    """``upload-sha256-<hex>`` (``upload-loans-sha256-<hex>`` for loans): the same content and kind always
    get the same key, whatever the run; the same bytes sent as another kind are another request."""
    kind = fields.get("kind", "flags")
    return f"upload-sha256-{digest}" if kind == "flags" else f"upload-{kind}-sha256-{digest}"


@dataclass(frozen=True)
class Report:
    """The error report as downloaded: where, and how many of its lines are warnings (``shared_token``)."""

    path: Path | None
    warnings: int = 0


def read_report(path: Path) -> Report:
    """Keep a report with lines, counting its warnings; remove one that has only its header."""
    lines = warnings = 0
    with path.open(encoding="utf-8", newline="") as file:
        for line in csv.DictReader(file):
            lines += 1
            warnings += line.get("code") == SHARED_TOKEN
    if not lines:
        path.unlink()
        return Report(None)
    return Report(path, warnings)


def upload(client: api.Client, options: Options, screen: Screen) -> tuple[Job, Report]:
    """Send the file (or find the job it made before), follow the job to its end, fetch its error report.

    Returns the finished job and its report (whose path is None if the report has no line).
    """
    if not options.file.is_file():
        raise ValueError(f"no such file: {options.file}")
    fields = options.fields(format_of(options.file, options.file_format))
    refuse_file(options.file, fields["format"], *LABEL_COLUMNS[options.kind])

    try:
        job = send_job(
            client,
            UPLOADS_PATH,
            options.file,
            fields,
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
                f"its {options.kind} are stored already. Upload it with its first format to follow that job."
            )
        raise
    with accepted("upload", job):
        job = follow(client, job, options.poll_seconds, screen, Job.from_answer, _processing)
        report = Report(None)
        if job.status == "succeeded" or job.rejected or job.superseded:
            client.download(job.errors_url, options.errors_path)
            report = read_report(options.errors_path)
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
        screen.note(explain(error, NOTES))
        return 2
    except KeyboardInterrupt:
        screen.note("interrupted: run the same command again to resume; the file will not be stored twice")
        return 2
    screen.bar.break_line()
    print(summary(job, options, report))
    if job.status != "succeeded":
        screen.note(f"error: upload {job.id} failed: {job.failure}")
        return 2
    return 1 if job.rejected else 0


def summary(job: Job, options: Options, report: Report) -> str:
    """One line: the job, what became of its rows, the warnings, and where the report is."""
    what = "upload" if options.kind == "flags" else f"upload of {options.kind}"
    line = (
        f"{what} {job.id} {job.status}: {job.rows:,} rows: {job.created:,} created, {job.updated:,} updated, "
        f"{job.superseded:,} superseded, {job.rejected:,} rejected"
    )
    if report.warnings:
        line += f", {report.warnings:,} stored with a token shared with other records of yours ({SHARED_TOKEN})"
    return line + (f" (see {report.path})" if report.path else "")
