"""``python -m memberkit upload``: send a file of flags, follow its job, fetch its error report.

Running the same command twice never makes two jobs. The ``Idempotency-Key``
is derived from the file's SHA-256, so after an interruption, while sending or
while polling, the same command sends the same key: the platform answers with
the job it already accepted (``Idempotent-Replayed: true``) and the client
carries on polling it. The platform keeps keys for a day; after that the same
file makes a new job, which is harmless since flags are stored by reference.

The file is streamed from disk (several GB in constant memory) and its length
is known before the first byte is sent, so no chunked encoding is needed.
"""

import hashlib
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from memberkit import api
from memberkit.progress import Bar, size
from memberkit.scanning import refuse_file
from memberkit.vocabulary import FILE_SUFFIXES, FINISHED

UPLOADS_PATH = "/api/v1/uploads"
KEY_VARIABLE = "RISKSHARE_API_KEY"
CHUNK_BYTES = 1024 * 1024
# Once a multi-GB body is sent, the platform stores the file before it answers.
ANSWER_TIMEOUT_SECONDS = 600.0
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class FileChanged(api.LocalError):
    """The file changed or vanished while it was read: what was sent is not what was hashed."""


@dataclass(frozen=True)
class Options:
    """The command line, as values a test or another program can pass without argparse."""

    file: Path
    url: str
    api_key_file: Path | None = None
    errors: Path | None = None
    file_format: str | None = None
    quiet: bool = False
    poll_seconds: float = 2.0
    ca_file: Path | None = None

    @property
    def errors_path(self) -> Path:
        return self.errors or self.file.with_name(self.file.name + ".upload-errors.csv")


@dataclass(frozen=True)
class Job:
    """An upload job as the platform reports it."""

    id: int
    status: str
    rows_total: int | None
    rows_done: int
    created: int
    updated: int
    superseded: int
    rejected: int
    error_code: str
    error: str
    self_url: str
    errors_url: str
    replayed: bool = False

    @classmethod
    def from_answer(cls, answer: api.Answer) -> "Job":
        data = answer.json()
        try:
            links: dict[str, Any] = data["links"]
            return cls(
                id=int(data["id"]),
                status=str(data["status"]),
                rows_total=None if data.get("rows_total") is None else int(data["rows_total"]),
                rows_done=int(data.get("rows_done") or 0),
                created=int(data.get("created_count") or 0),
                updated=int(data.get("updated_count") or 0),
                superseded=int(data.get("superseded_count") or 0),
                rejected=int(data.get("rejected_count") or 0),
                error_code=str(data.get("error_code") or ""),
                error=str(data.get("error") or ""),
                self_url=str(links["self"]),
                errors_url=str(links["errors"]),
                replayed=answer.headers.get("Idempotent-Replayed", "").lower() == "true",
            )
        except (KeyError, TypeError, ValueError):
            raise api.ApiError("the platform's answer is not an upload job; is --url the Riskshare platform?") from None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def rows(self) -> int:
        return self.rows_total if self.rows_total is not None else self.rows_done


class Screen:
    """Where the command talks to a person: one bar at a time on standard error, notes on lines of their own."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = Bar(enabled=False)

    def new_bar(self) -> Bar:
        self.bar.break_line()
        self.bar = Bar(enabled=not self.quiet)
        return self.bar

    def note(self, message: str) -> None:
        self.bar.break_line()
        print(message, file=sys.stderr, flush=True)


class Multipart:
    """A multipart/form-data body read from disk while it is sent: a file of several GB costs 1 MiB of memory.

    The parts around the file are small and fixed, so the body's length is known
    before a byte of the file is read. The file must not change from the moment
    the body is made (before hashing) to its last byte sent: the key would name
    content that was never sent, so a change is an error.
    """

    def __init__(self, path: Path, fields: Mapping[str, str], on_sent: Callable[[int, int], None]) -> None:
        self.path, self.on_sent = path, on_sent
        self.stat = path.stat()
        boundary = f"riskshare-{uuid.uuid4().hex}"
        self.content_type = f"multipart/form-data; boundary={boundary}"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{_quoted(path.name)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        self.head = "".join(parts).encode()
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.length = len(self.head) + self.stat.st_size + len(self.tail)

    def chunks(self) -> Iterator[bytes]:
        yield self.head
        sent = len(self.head)
        self.on_sent(sent, self.length)
        try:
            with self.path.open("rb") as file:
                left = self.stat.st_size
                while left:
                    chunk = file.read(min(CHUNK_BYTES, left))
                    if not chunk:
                        break
                    yield chunk
                    left -= len(chunk)
                    sent += len(chunk)
                    self.on_sent(sent, self.length)
                now = os.fstat(file.fileno())
        except OSError as error:
            raise FileChanged(f"{self.path} could not be read while sending: {error.strerror or error}") from None
        if left or (now.st_size, now.st_mtime_ns) != (self.stat.st_size, self.stat.st_mtime_ns):
            raise FileChanged(f"{self.path} changed while it was being sent; run the command again once it is complete")
        yield self.tail
        self.on_sent(self.length, self.length)


def _quoted(name: str) -> str:
    """A file name inside a quoted header parameter, escaped as browsers do (WHATWG multipart/form-data)."""
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def load_api_key(path: Path | None, environ: Mapping[str, str]) -> str:
    """The key from ``--api-key-file`` or else ``RISKSHARE_API_KEY``; a file keeps it out of the process list."""
    key = path.read_text(encoding="utf-8").strip() if path is not None else environ.get(KEY_VARIABLE, "").strip()
    if not key:
        where = f"the file {path}" if path is not None else f"the environment variable {KEY_VARIABLE}"
        raise ValueError(f"no API key: {where} is empty or missing (pass --api-key-file or set {KEY_VARIABLE})")
    return key


def format_of(path: Path, given: str | None) -> str:
    if given:
        return given
    found = FILE_SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise ValueError(f"{path.name} ends in neither .csv nor .jsonl: name its format with --format csv or jsonl")
    return found


def idempotency_key(digest: str, fields: Mapping[str, str]) -> str:
    """``upload-sha256-<hex>``: the same content always gets the same key, whatever the run."""
    return f"upload-sha256-{digest}"


def post_file(
    client: api.Client,
    path: str,
    file: Path,
    fields: Mapping[str, str],
    key_of: Callable[[str, Mapping[str, str]], str],
    screen: Screen,
) -> api.Answer:
    """POST ``file`` with ``fields`` as a job's form, under the Idempotency-Key that ``key_of`` makes
    of the file's SHA-256 and the fields, drawing the hashing and the sending."""

    def sent(done: int, length: int) -> None:
        bar = screen.bar
        bar.draw(done, length, f"sending {size(done)} of {size(length)}  {size(int(bar.rate(done)))}/s")

    # Made before hashing: it notes the file's size and time, so a change from here to the last byte sent is seen.
    body = Multipart(file, fields, sent)
    key = key_of(content_digest(file, screen.new_bar()), fields)
    bar = screen.new_bar()
    answer = client.send(
        "POST", client.url(path), body=body, headers={"Idempotency-Key": key}, answer_timeout=ANSWER_TIMEOUT_SECONDS
    )
    bar.draw(body.length, body.length, f"sent {size(body.length)}", final=True)
    return answer


def connect(
    url: str,
    api_key_file: Path | None,
    ca_file: Path | None,
    environ: Mapping[str, str],
    screen: Screen,
    carried: str,
    **options: Any,
) -> api.Client:
    """A client for the platform at ``url`` with the member's API key, warning when ``carried`` travels in clear."""
    client = api.Client(url, load_api_key(api_key_file, environ), ca_file=ca_file, notify=screen.note, **options)
    if not client.encrypted and client.host not in LOCAL_HOSTS:
        screen.note(f"warning: {client.host} over plain http: the API key and {carried} travel unencrypted")
    return client


def content_digest(path: Path, bar: Bar) -> str:
    """The file's SHA-256 in hex, drawing how much of it is read: a file of several GB takes a while."""
    total, done = path.stat().st_size, 0
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
            done += len(chunk)
            bar.draw(done, total, f"hashing {size(done)} of {size(total)}")
    bar.draw(total, total, f"hashed {size(total)}", final=True)
    return digest.hexdigest()


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
        answer = post_file(client, UPLOADS_PATH, options.file, {"format": file_format}, idempotency_key, screen)
    except api.ApiError as error:
        if error.code == "idempotency_key_reused":
            error.add_note(
                "The same content was uploaded within the last day as another format; "
                "its flags are stored already. Upload it with its first format to follow that job."
            )
        raise
    job = Job.from_answer(answer)
    if job.replayed:
        screen.note(f"this file was sent before: following upload {job.id}")
    try:
        job = follow(client, job, options.poll_seconds, screen, Job.from_answer, _processing)
        report = None
        if job.rejected or job.superseded:
            report = options.errors_path
            client.download(job.errors_url, report)
    except (api.ApiError, OSError) as error:
        error.add_note(f"upload {job.id} was accepted: run the same command again to follow it")
        raise
    return job, report


class Polled(Protocol):
    """A job the platform runs, as the client reads it: what ``follow`` needs of uploads and inspections alike."""

    @property
    def rows_done(self) -> int: ...

    @property
    def self_url(self) -> str: ...

    @property
    def rows_total(self) -> int | None: ...

    @property
    def finished(self) -> bool: ...


J = TypeVar("J", bound=Polled)


def follow(
    client: api.Client,
    job: J,
    poll_seconds: float,
    screen: Screen,
    read: Callable[[api.Answer], J],
    caption: Callable[[J], str],
) -> J:
    """Poll the job until it has finished, drawing rows done of rows in total and ``caption``'s words."""
    bar = screen.new_bar()
    while True:
        bar.draw(job.rows_done, job.rows_total or 0, caption(job), final=job.finished)
        if job.finished:
            return job
        client.sleep(poll_seconds)
        job = read(client.send("GET", job.self_url))


def _processing(job: Job) -> str:
    if job.status == "queued":
        return "queued"
    if job.rows_total is None and not job.finished:
        return "checking the file"
    return (
        f"{job.rows_done:,} of {job.rows:,} rows: "
        f"{job.created:,} created, {job.updated:,} updated, {job.rejected:,} rejected"
    )


def explain(error: api.ApiError | OSError | ValueError, advice: Mapping[str, str] | None = None) -> str:
    """What a command that stops prints: the error, its details and notes, and what to do for its code."""
    if isinstance(error, api.ApiError):
        headline, *details = error.lines()
        more = [advice[error.code]] if advice and error.code in advice else []
    else:
        headline, details, more = str(error), [], []
        if isinstance(error, OSError) and error.strerror and error.filename:
            headline = f"{error.strerror}: {error.filename}"
    return "\n".join([f"error: {headline}", *details, *getattr(error, "__notes__", []), *more])


def run(options: Options, environ: Mapping[str, str] = os.environ) -> int:
    """The command: 0 when every row was stored, 1 when some were rejected, 2 when it failed."""
    screen = Screen(options.quiet)
    try:
        client = connect(options.url, options.api_key_file, options.ca_file, environ, screen, "the file")
        job, report = upload(client, options, screen)
    except (api.ApiError, OSError, ValueError) as error:
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
        reason = f"{job.error} ({job.error_code})" if job.error_code else job.error or "no reason given"
        screen.note(f"error: upload {job.id} failed: {reason}")
        return 2
    return 1 if job.rejected else 0
