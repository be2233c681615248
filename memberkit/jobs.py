"""A file sent as a job and the job followed to its end: what ``upload`` and ``inspect`` share.

The file is streamed from disk (several GB in constant memory) and its length is known before the
first byte is sent, so no chunked encoding is needed. Its SHA-256 names the request
(``Idempotency-Key``), so that running a command again finds the job it started instead of
starting another.
"""

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from memberkit import api
from memberkit.problems import ApiError, LocalError
from memberkit.progress import Bar, size
from memberkit.session import PlatformOptions, Screen
from memberkit.vocabulary import FILE_SUFFIXES, FINISHED

CHUNK_BYTES = 1024 * 1024
# Once a multi-GB body is sent, the platform stores the file before it answers.
ANSWER_TIMEOUT_SECONDS = 600.0


class FileChanged(LocalError):
    """The file changed or vanished while it was read: what was sent is not what was hashed."""


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


def format_of(path: Path, given: str | None) -> str:
    if given:
        return given
    found = FILE_SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise ValueError(f"{path.name} ends in neither .csv nor .jsonl: name its format with --format csv or jsonl")
    return found


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


@dataclass(frozen=True, kw_only=True)
class JobOptions(PlatformOptions):
    """A command whose file is sent as a job: the file's format, and how often the job is polled."""

    file_format: str | None = None
    poll_seconds: float = 2.0


@dataclass(frozen=True, kw_only=True)
class FileJob:
    """A job the platform runs on a file sent to it (an upload, an inspection), as the client reads it."""

    id: int
    status: str
    rows_total: int | None
    rows_done: int
    rejected: int
    error_code: str
    error: str
    self_url: str
    errors_url: str
    replayed: bool = False

    @staticmethod
    def read(answer: api.Answer) -> tuple[dict[str, Any], dict[str, Any]]:
        """The answer's document, and what every file job reports in it by field name.

        Raises ``KeyError``, ``TypeError`` or ``ValueError`` for an answer that is not a job, which
        each kind of job words in its own ``from_answer``.
        """
        data = answer.json()
        links: dict[str, Any] = data["links"]
        return data, {
            "id": int(data["id"]),
            "status": str(data["status"]),
            "rows_total": None if data.get("rows_total") is None else int(data["rows_total"]),
            "rows_done": int(data.get("rows_done") or 0),
            "rejected": int(data.get("rejected_count") or 0),
            "error_code": str(data.get("error_code") or ""),
            "error": str(data.get("error") or ""),
            "self_url": str(links["self"]),
            "errors_url": str(links["errors"]),
            "replayed": answer.headers.get("Idempotent-Replayed", "").lower() == "true",
        }

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def failure(self) -> str:
        """Why a failed job failed: the platform's words and code."""
        return f"{self.error} ({self.error_code})" if self.error_code else self.error or "no reason given"


J = TypeVar("J", bound=FileJob)


def follow(
    client: api.Client,
    job: J,
    poll_seconds: float,
    screen: Screen,
    read: Callable[[api.Answer], J],
    caption: Callable[[J], str],
) -> J:
    """Poll the job until it has finished, drawing rows done of rows in total and ``caption``'s words
    once the file is checked."""
    bar = screen.new_bar()
    while True:
        if job.status == "queued":
            words = "queued"
        elif job.rows_total is None and not job.finished:
            words = "checking the file"
        else:
            words = caption(job)
        bar.draw(job.rows_done, job.rows_total or 0, words, final=job.finished)
        if job.finished:
            return job
        client.sleep(poll_seconds)
        job = read(client.send("GET", job.self_url))


def send_job(
    client: api.Client,
    path: str,
    file: Path,
    fields: Mapping[str, str],
    key_of: Callable[[str, Mapping[str, str]], str],
    screen: Screen,
    read: Callable[[api.Answer], J],
    kind: str,
    sent: str,
) -> J:
    """POST ``file`` with ``fields`` as a job's form, under the Idempotency-Key that ``key_of`` makes
    of the file's SHA-256 and the fields, drawing the hashing and the sending; the job of ``kind`` it
    started, or the one the same key started before (said so: ``sent`` was sent before)."""

    def on_sent(done: int, length: int) -> None:
        bar = screen.bar
        bar.draw(done, length, f"sending {size(done)} of {size(length)}  {size(int(bar.rate(done)))}/s")

    # Made before hashing: it notes the file's size and time, so a change from here to the last byte sent is seen.
    body = Multipart(file, fields, on_sent)
    key = key_of(content_digest(file, screen.new_bar()), fields)
    bar = screen.new_bar()
    answer = client.send(
        "POST", client.url(path), body=body, headers={"Idempotency-Key": key}, answer_timeout=ANSWER_TIMEOUT_SECONDS
    )
    bar.draw(body.length, body.length, f"sent {size(body.length)}", final=True)
    job = read(answer)
    if job.replayed:
        screen.note(f"{sent} was sent before: following {kind} {job.id}")
    return job


@contextmanager
def accepted(kind: str, job: FileJob) -> Iterator[None]:
    """Once the platform has accepted the job, an error says that running the command again follows it."""
    try:
        yield
    except (ApiError, OSError) as error:
        error.add_note(f"{kind} {job.id} was accepted: run the same command again to follow it")
        raise
