"""``python -m memberkit query``: look a file of borrowers up on the platform, a hundred at a time.

The platform answers at most ``BATCH_SIZE`` subjects a request and audits each
request with its purpose, so the file is streamed (constant memory whatever its
length), sent in batches, and each batch's answers are appended to the output
as soon as they arrive. A run that stops (the network, the daily quota, Ctrl-C)
is continued by running the same command again: the correlation ids the output
already holds are skipped, so a batch that was answered is never asked again,
audited again or counted against the quota again.

Rows the platform would refuse (no correlation id, a token that is not one, an
unknown identifier type) are refused here first and reported by row number,
without their values: one bad row must not cost a whole batch a 400.

A per-minute rate (429 ``rate_exceeded``) is waited out; the daily quota (429
``quota_exceeded``) stops the run, since it resets only at midnight.
"""

import csv
import io
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from memberkit import api
from memberkit.problems import ApiError
from memberkit.results import Results
from memberkit.scanning import check_label
from memberkit.session import PlatformOptions, Screen, connect, explain
from memberkit.subjects import Subject, check_row, read_rows
from memberkit.text import has_control
from memberkit.vocabulary import (
    CONSENT_MAX,
    CONSENT_REQUIRED,
    CONSENT_TOO_LONG,
    ID_TYPES,
    PURPOSES,
    SUBJECTS_MAX,
    consent_refusal,
)

QUERIES_PATH = "/api/v1/queries"
BATCH_SIZE = SUBJECTS_MAX  # the most the platform answers in one request
# The per-minute rate asks for a minute at most; a longer Retry-After is waited in steps of this, then retried.
RATE_WAIT_CAP_SECONDS = 120.0
NOTES = {
    "quota_exceeded": "The daily quota is used up: run the same command again tomorrow to carry on.",
    "rate_exceeded": "The per-minute rate stayed exceeded: another program may be querying with your institution's "
    "keys. Run the same command again to carry on.",
    "not_reciprocal": "Your institution must contribute flags (the upload command) before it may query.",
    "missing_scope": "An institution admin can issue an API key with the match scope.",
}


@dataclass(frozen=True, kw_only=True)
class Options(PlatformOptions):
    """The command line, as values a test or another program can pass without argparse."""

    purpose: str
    consent_reference: str | None = None
    output: Path | None = None
    token_column: str = "token"  # noqa: S105 - a column's name, not a secret
    id_type: str | None = None  # one type for every row, for a file with no id_type column
    correlation_column: str = "correlation_id"

    @property
    def output_path(self) -> Path:
        return self.output or self.file.with_name(self.file.name + ".results.csv")

    @property
    def errors_path(self) -> Path:
        return self.output_path.with_name(self.output_path.name + ".errors.csv")

    def check(self) -> None:
        """Refuse, before any file is opened or request sent, what the platform would refuse for every batch."""
        check_purpose(self.purpose, self.consent_reference)
        if self.id_type is not None and self.id_type not in ID_TYPES:
            raise ValueError(f"the identifier type is one of {', '.join(ID_TYPES)}, not {self.id_type!r}")
        if not self.file.is_file():
            raise ValueError(f"no such file: {self.file}")
        if self.file.resolve() in (self.output_path.resolve(), self.errors_path.resolve()):
            raise ValueError("--output would overwrite the file being queried: name another one")


def check_purpose(purpose: str, consent_reference: str | None) -> None:
    """Refuse a purpose the platform does not know, or one that needs consent without its reference."""
    if purpose not in PURPOSES:
        raise ValueError(f"the purpose is one of {', '.join(PURPOSES)}, not {purpose!r}")
    refusal = consent_refusal(purpose, consent_reference)
    if refusal == CONSENT_REQUIRED:
        raise ValueError(
            f"the purpose {purpose} needs the borrower's written authorization: "
            "give its reference with --consent-reference"
        )
    if refusal == CONSENT_TOO_LONG:
        raise ValueError(f"a consent reference has at most {CONSENT_MAX} characters")
    consent = (consent_reference or "").strip()
    if has_control(consent):
        raise ValueError("a consent reference cannot hold control characters")
    check_label("the consent reference", consent)


@dataclass
class Outcome:
    """What a run did, kept up to date as it goes so that a run that stops can say how far it got."""

    rows: int = 0
    answered: int = 0
    hits: int = 0
    refused: int = 0
    skipped: int = 0  # answered by an earlier run
    note: str | None = None  # why the answers have no multi-lender figures, once the platform said it


class JsonBody:
    """A small JSON request body, for ``api.Client.send``."""

    content_type = "application/json"

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        self.length = len(self.data)

    def chunks(self) -> Iterator[bytes]:
        yield self.data


class Answers(NamedTuple):
    """A query's answers, and why they have no multi-lender figures (``lending_note``, as words), if they have none."""

    subjects: list[dict[str, Any]]
    note: str | None


def ask(client: api.Client, options: Options, batch: Sequence[Subject]) -> Answers:
    """One query of up to ``BATCH_SIZE`` subjects: their answers, in the batch's order, and the answer's note.

    A query only reads (and is audited), so it is retried on transient errors
    although it carries no Idempotency-Key: an answer lost on its way back is
    asked for again, and the audit log shows both.
    """
    document: dict[str, Any] = {"purpose": options.purpose}
    if consent := (options.consent_reference or "").strip():
        document["consent_reference"] = consent
    document["subjects"] = [subject.fields() for subject in batch]
    try:
        answer = client.send("POST", client.url(QUERIES_PATH), body=JsonBody(document), retry=True)
    except ApiError as error:
        places = {place for field_error in error.errors if (place := _place(field_error.field)) is not None}
        for place in sorted(places):
            if place < len(batch):
                subject = batch[place]
                error.add_note(f"subjects[{place}] is row {subject.row} (correlation id {subject.correlation_id})")
        raise
    data = answer.json()
    subjects = data.get("subjects")
    if not isinstance(subjects, list) or [
        subject.get("correlation_id") if isinstance(subject, dict) else None for subject in subjects
    ] != [subject.correlation_id for subject in batch]:
        raise ApiError("the platform's answer does not list the subjects asked for; is --url the platform?")
    return Answers(subjects, note_words(data.get("lending_note")))


def note_words(note: object) -> str | None:
    """``lending_note`` as a person reads it: its message and code; None when the platform sent none."""
    if not isinstance(note, dict):
        return None
    code, message = str(note.get("code") or ""), str(note.get("message") or "")
    return f"{message} ({code})" if code else message or None


def _place(name: str | None) -> int | None:
    """The index in ``subjects[3].token``, the form the platform names a subject's field in."""
    found = re.match(r"subjects\[(\d+)\]", name or "")
    return int(found.group(1)) if found else None


def query(client: api.Client, options: Options, screen: Screen, outcome: Outcome) -> None:
    """Send every row of the file not answered before, in batches, and write their answers as they come."""
    results = Results(options.output_path)
    answered = results.answered()
    if answered:
        screen.note(f"{options.output_path} holds {len(answered):,} answers already: those subjects are skipped")
    total = options.file.stat().st_size
    with ExitStack() as stack:
        raw = stack.enter_context(options.file.open("rb"))
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        rows = read_rows(options.file, text, options)
        first = next(rows, None)  # reads the header: a file lacking a column leaves the output untouched
        out = stack.enter_context(results.open())
        errors = csv.writer(stack.enter_context(options.errors_path.open("w", encoding="utf-8", newline="")))
        errors.writerow(["row", "field", "reason"])
        bar = screen.new_bar()

        def draw(final: bool = False) -> None:
            done = total if final else raw.tell()
            caption = f"{outcome.rows:,} rows  {_hits(outcome.hits)}  {bar.rate(outcome.rows):,.0f} rows/s"
            bar.draw(done, total, caption, final=final)

        def send(batch: list[Subject]) -> None:
            answers, note = ask(client, options, batch)
            if note and not outcome.note:
                outcome.note = note
                screen.note(f"note: no multi-lender figures: {note}")
            results.write(out, answers)
            outcome.answered += len(answers)
            outcome.hits += sum(answer.get("hit") is True for answer in answers)
            draw()

        batch: list[Subject] = []
        for number, values in _chained(first, rows):
            outcome.rows += 1
            checked = check_row(number, values, options)
            if isinstance(checked, list):
                errors.writerows(checked)
                outcome.refused += 1
            elif checked.correlation_id in answered:
                outcome.skipped += 1
            else:
                batch.append(checked)
                if len(batch) == BATCH_SIZE:
                    send(batch)
                    batch = []
            if outcome.rows % BATCH_SIZE == 0:
                draw()
        if batch:
            send(batch)
        draw(final=True)


def _chained(
    first: tuple[int, Mapping[str, object]] | None, rows: Iterator[tuple[int, Mapping[str, object]]]
) -> Iterator[tuple[int, Mapping[str, object]]]:
    if first is not None:
        yield first
        yield from rows


def run(options: Options, environ: Mapping[str, str] = os.environ) -> int:
    """The command: 0 when every row was answered, 1 when some were refused here, 2 when it failed or stopped."""
    screen = Screen(options.quiet)
    outcome = Outcome()
    try:
        options.check()
        client = connect(options, environ, screen, "the tokens", retry_after_cap=RATE_WAIT_CAP_SECONDS)
        query(client, options, screen, outcome)
    except (ApiError, OSError, ValueError) as error:
        screen.note(explain(error, NOTES))
        _so_far(screen, options, outcome)
        return 2
    except KeyboardInterrupt:
        screen.note("interrupted")
        _so_far(screen, options, outcome, always=True)
        return 2
    screen.bar.break_line()
    print(summary(options, outcome))
    return 1 if outcome.refused else 0


def summary(options: Options, outcome: Outcome) -> str:
    """``hash``'s summary, for queries: every row of the file is answered now, answered before, or refused."""
    skipped = f", {outcome.skipped:,} answered before" if outcome.skipped else ""
    refused = f"{outcome.refused:,} refused" + (f" (see {options.errors_path})" if outcome.refused else "")
    return (
        f"{outcome.rows:,} rows: {outcome.answered:,} answered ({_hits(outcome.hits)}){skipped}, {refused}: "
        f"results in {options.output_path}"
    )


def _hits(count: int) -> str:
    return f"{count:,} hit" if count == 1 else f"{count:,} hits"


def _so_far(screen: Screen, options: Options, outcome: Outcome, always: bool = False) -> None:
    if outcome.answered or always:
        screen.note(
            f"{outcome.answered:,} answered in this run ({_hits(outcome.hits)}) are in {options.output_path}: "
            "run the same command again to carry on; rows answered are not asked again"
        )
