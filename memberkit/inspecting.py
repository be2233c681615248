"""``python -m memberkit inspect``: a post-loan self-inspection of a whole portfolio, from file to results.

The tokenized portfolio (``correlation_id``, ``id_type``, ``token``, and up to four more
identifiers of a borrower in ``id_type_2``/``token_2`` ... ``id_type_5``/``token_5``: what
``hash`` writes) is sent once, workers on the platform match it in parts, and the command
follows the job to its end and downloads the results (flags and multi-lender figures) and,
if some rows could not be matched, their error report.

Running the same command twice never makes two inspections. The
``Idempotency-Key`` is derived from the file's SHA-256 and from what is asked
(portfolio, purpose, consent reference), so after an interruption, while sending
or while polling, the same command finds the job it started and carries on. A
new inspection of the same portfolio is a new file, or the same file on a later
day (the platform keeps keys for a day).
"""

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from memberkit import api
from memberkit.jobs import FileJob, JobOptions, accepted, follow, format_of, send_job
from memberkit.problems import ApiError
from memberkit.querying import check_purpose, note_words
from memberkit.scanning import check_label, refuse_file
from memberkit.session import Screen, connect, explain
from memberkit.subjects import JSONL_SUFFIXES
from memberkit.vocabulary import LENDING_THRESHOLD_FIGURES, PORTFOLIO_MAX

INSPECTIONS_PATH = "/api/v1/inspections"
NOTES = {
    "not_reciprocal": "Your institution must contribute flags (the upload command) before it may inspect.",
    "missing_scope": "An institution admin can issue an API key with the inspections scope.",
}


@dataclass(frozen=True, kw_only=True)
class Options(JobOptions):
    """The command line, as values a test or another program can pass without argparse."""

    portfolio: str
    purpose: str
    consent_reference: str | None = None
    output: Path | None = None
    errors: Path | None = None
    # FIGURE=N: a subject is new when the figure rose by N since the portfolio's previous inspection.
    lending_threshold: Sequence[str] = ()

    @property
    def output_path(self) -> Path:
        return self.output or self.file.with_name(self.file.name + ".inspection.csv")

    @property
    def thresholds(self) -> dict[str, int]:
        """``lending_threshold`` read: {figure: at least}; a figure, or a number that is not one, is refused."""
        thresholds = {}
        for given in self.lending_threshold:
            figure, equals, text = given.partition("=")
            if not equals or figure not in LENDING_THRESHOLD_FIGURES:
                raise ValueError(
                    f"a threshold is FIGURE=N, FIGURE one of {', '.join(LENDING_THRESHOLD_FIGURES)}: {given!r}"
                )
            if not text.isascii() or not text.isdigit() or int(text) < 1:
                raise ValueError(f"the threshold of {figure} is a whole number from 1: {text!r}")
            thresholds[figure] = int(text)
        return thresholds

    @property
    def errors_path(self) -> Path:
        return self.errors or self.output_path.with_name(self.output_path.name + ".errors.csv")

    @property
    def accept(self) -> str:
        return "application/jsonl" if self.output_path.suffix.lower() in JSONL_SUFFIXES else "text/csv"

    def check(self) -> None:
        """Refuse, before the file is read or a request sent, what the platform would refuse."""
        check_purpose(self.purpose, self.consent_reference)
        if not self.portfolio.strip() or len(self.portfolio) > PORTFOLIO_MAX:
            raise ValueError(f"name the portfolio with 1 to {PORTFOLIO_MAX} characters")
        check_label("the portfolio's name", self.portfolio)
        self.thresholds  # noqa: B018 - read for its refusal
        if not self.file.is_file():
            raise ValueError(f"no such file: {self.file}")
        if self.file.resolve() in (self.output_path.resolve(), self.errors_path.resolve()):
            raise ValueError("--output or --errors would overwrite the portfolio file: name another one")

    def fields(self, file_format: str) -> dict[str, str]:
        """The form sent with the file; every field is part of the idempotency key."""
        fields = {"format": file_format, "portfolio": self.portfolio, "purpose": self.purpose}
        if consent := (self.consent_reference or "").strip():
            fields["consent_reference"] = consent
        if thresholds := self.thresholds:
            fields["lending_thresholds"] = json.dumps(thresholds, sort_keys=True, separators=(",", ":"))
        return fields


@dataclass(frozen=True, kw_only=True)
class Inspection(FileJob):
    """An inspection job as the platform reports it."""

    parts: int
    parts_done: int
    hits: int
    new_hits: int
    counts_by_category: dict[str, int]
    previous: int | None
    results_url: str
    lending_count: int | None = None  # subjects with a figure of other institutions' lending that is not zero
    lending_note: str | None = None  # why the subjects have no multi-lender figures, in words

    @classmethod
    def from_answer(cls, answer: api.Answer) -> "Inspection":
        try:
            data, common = FileJob.read(answer)
            counts = data.get("counts_by_category") or {}
            return cls(
                **common,
                parts=int(data.get("parts") or 0),
                parts_done=int(data.get("parts_done") or 0),
                hits=int(data.get("hits_count") or 0),
                new_hits=int(data.get("new_hits_count") or 0),
                counts_by_category={str(category): int(count) for category, count in counts.items()},
                previous=None if data.get("previous") is None else int(data["previous"]),
                results_url=str(data["links"]["results"]),
                lending_count=None if data.get("lending_count") is None else int(data["lending_count"]),
                lending_note=note_words(data.get("lending_note")),
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ApiError("the platform's answer is not an inspection; is --url the Riskshare platform?") from None


def _progress(job: Inspection) -> str:
    return (
        f"{job.rows_done:,} of {job.rows_total or job.rows_done:,} rows, {job.parts_done} of {job.parts} parts matched"
    )


def idempotency_key(digest: str, fields: Mapping[str, str]) -> str:
    """``inspect-sha256-<hex>`` over the file's digest and the form: another portfolio or purpose is another job."""
    asked = "\n".join(f"{name}={value}" for name, value in sorted(fields.items()))
    return "inspect-sha256-" + hashlib.sha256(f"{digest}\n{asked}".encode()).hexdigest()


def inspect(client: api.Client, options: Options, screen: Screen) -> tuple[Inspection, Path | None]:
    """Send the portfolio (or find the job it started before), follow it, download results and any errors.

    Returns the finished inspection and where its error report was written (None if every row was matched).
    ``options`` are checked already (``Options.check``), as ``run`` does first.
    """
    fields = options.fields(format_of(options.file, options.file_format))
    refuse_file(options.file, fields["format"], "correlation_id")

    job = send_job(
        client,
        INSPECTIONS_PATH,
        options.file,
        fields,
        idempotency_key,
        screen,
        Inspection.from_answer,
        "inspection",
        "this portfolio",
    )
    with accepted("inspection", job):
        job = follow(client, job, options.poll_seconds, screen, Inspection.from_answer, _progress)
        report = None
        if job.status == "succeeded":
            client.download(job.results_url, options.output_path, accept=options.accept)
            if job.rejected:
                report = options.errors_path
                client.download(job.errors_url, report)
    return job, report


def summary(job: Inspection, options: Options, report: Path | None) -> str:
    """What the inspection found, category by category, and where the files are."""
    rows = job.rows_total if job.rows_total is not None else job.rows_done
    subjects = "1 subject" if job.hits == 1 else f"{job.hits:,} subjects"
    new = f", {job.new_hits:,} new since inspection {job.previous}" if job.previous is not None else ""
    rejected = f", {job.rejected:,} rows rejected (see {report})" if job.rejected else ""
    lines = [f"inspection {job.id} of {options.portfolio}: {rows:,} rows, {subjects} flagged by others{new}{rejected}"]
    lines += [f"  {category}: {count:,}" for category, count in sorted(job.counts_by_category.items())]
    if job.lending_note:
        lines.append(f"no multi-lender figures: {job.lending_note}")
    elif job.lending_count is not None:
        borrowing = "1 subject" if job.lending_count == 1 else f"{job.lending_count:,} subjects"
        lines.append(f"{borrowing} looked up for lending or lent to by other institutions")
    lines.append(f"results in {options.output_path}")
    return "\n".join(lines)


def run(options: Options, environ: Mapping[str, str] = os.environ) -> int:
    """The command: 0 when every row was matched, 1 when some were rejected, 2 when it failed or stopped."""
    screen = Screen(options.quiet)
    try:
        options.check()
        client = connect(options, environ, screen, "the tokens")
        job, report = inspect(client, options, screen)
    except (ApiError, OSError, ValueError) as error:
        screen.note(explain(error, NOTES))
        return 2
    except KeyboardInterrupt:
        screen.note("interrupted: run the same command again to carry on; the portfolio will not be inspected twice")
        return 2
    screen.bar.break_line()
    if job.status != "succeeded":
        screen.note(f"error: inspection {job.id} failed: {job.failure}")
        return 2
    print(summary(job, options, report))
    return 1 if job.rejected else 0
