"""Processing an uploaded file of flags, chunk by chunk, resumable after a worker dies.

A job first reads the whole file once (``survey``): it must be UTF-8, well formed
and within the row limit, or it fails with nothing stored. Then each chunk of
``UPLOAD_CHUNK_ROWS`` records is checked row by row, stored, and committed in one
transaction together with its error-report lines and the job's checkpoint (the
number of records done). A worker that dies loses only the
chunk it had not committed; whoever resumes reads the checkpoint and carries on,
and since flags are upserted by reference nothing is ever stored twice.

Rows are numbered by the line of the file on which they start: the CSV header
is line 1. Within a file, the last valid row of a reference wins; each earlier
one is listed in the error report as ``superseded``.
"""

import csv
import io
import json
import logging
import queue
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from itertools import islice
from typing import IO, Any, NamedTuple, TextIO

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.audit import record
from accounts.choices import AuditAction, AuditOutcome
from sharing.choices import FileFormat, UploadStatus
from sharing.keys import data_key_for
from sharing.models import DataKey, Upload, UploadError
from sharing.rows import FIELDS, REQUIRED_FIELDS, Checker, FieldError
from sharing.storing import Staged, Stager, Stored, copy_and_merge, upsert_orm

logger = logging.getLogger(__name__)


class FileRefused(ValueError):
    """The file as a whole cannot be processed; nothing of it is stored."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Superseded(Exception):
    """Another runner has moved the job's checkpoint: this one stops."""


def header_errors(columns: list[str]) -> list[FieldError]:
    """Missing and unknown columns of a CSV header, each as an error of that column."""
    errors = [
        FieldError(name, "unknown_column", "Not a column of a flag file.") for name in columns if name not in FIELDS
    ]
    errors += [
        FieldError(name, "missing_column", "The column is required.") for name in REQUIRED_FIELDS if name not in columns
    ]
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            errors.append(FieldError(name, "duplicate_column", "The column appears twice."))
        seen.add(name)
    return errors


def read_header(file: IO[bytes]) -> list[str]:  # the API's check before a file is even stored
    """The columns named by a CSV file's first line (a byte-order mark is allowed)."""
    first = file.readline(64 * 1024)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused("not_utf8", "Line 1 is not UTF-8 text; save the file as UTF-8.") from None
    columns = next(csv.reader([text]), [])
    if not columns:
        raise FileRefused("empty_file", "The file has no header line.")
    return [name.strip() for name in columns]


class Record(NamedTuple):
    line: int  # the line on which the record starts
    item: dict[str, Any] | None  # None when ``error`` says why the record could not be read
    error: FieldError | None


def _record(values: tuple[int, dict[str, Any], None]) -> Record:
    return tuple.__new__(Record, values)  # NamedTuple's own __new__ costs a microsecond a row


@contextmanager
def decoded(file: IO[bytes]) -> Iterator[TextIO]:
    """The file as UTF-8 text from its start (a byte-order mark is skipped), read at C speed."""
    file.seek(0)
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        yield text
    except UnicodeDecodeError:
        raise FileRefused(
            "not_utf8", f"Line {_first_bad_line(file)} is not UTF-8 text; save the file as UTF-8."
        ) from None
    finally:
        with suppress(ValueError):  # the file was closed under an abandoned reader: nothing to keep open
            text.detach()  # the caller's file stays open


def _first_bad_line(file: IO[bytes]) -> int:
    file.seek(0)
    for number, raw in enumerate(file, start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return 0


def _csv_rows(text: TextIO) -> tuple[Any, list[str]]:
    """A CSV reader past the header, and the header's columns, which must be a flag file's."""
    reader = csv.reader(text, strict=True)
    columns = [name.strip() for name in next(reader, [])]
    if not columns:
        raise FileRefused("empty_file", "The file has no header line.")
    if errors := header_errors(columns):
        raise FileRefused(errors[0].code, "; ".join(f"{e.field}: {e.message}" for e in errors))
    return reader, columns


def records(file: IO[bytes], file_format: str, skip: int = 0) -> Generator[Record, None, None]:
    """Every record of the file after the first ``skip``, each with the line on which it starts."""
    with decoded(file) as text:
        if file_format == FileFormat.JSONL:
            yield from _jsonl_records(text, skip)
            return
        reader, columns = _csv_rows(text)
        width = len(columns)
        count = 0
        start = reader.line_num + 1
        try:
            for values in reader:
                if not values:  # a blank line
                    start = reader.line_num + 1
                    continue
                count += 1
                if count > skip:
                    if len(values) == width:  # checked: zip's own check would cost every row again
                        yield _record((start, dict(zip(columns, values, strict=False)), None))
                    else:
                        message = f"The row has {len(values)} fields; the header has {width}."
                        yield Record(start, None, FieldError("", "bad_row", message))
                start = reader.line_num + 1
        except csv.Error as error:
            raise FileRefused("bad_csv", f"Line {reader.line_num} cannot be read as CSV: {error}.") from None


def _jsonl_records(text: TextIO, skip: int) -> Iterator[Record]:
    count = 0
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        count += 1
        if count <= skip:
            continue
        try:
            item = json.loads(line)
        except ValueError:
            yield Record(number, None, FieldError("", "bad_json", "The line is not valid JSON."))
            continue
        if isinstance(item, dict):
            yield Record(number, item, None)
        else:
            yield Record(number, None, FieldError("", "bad_json", "The line is not a JSON object."))


def survey(file: IO[bytes], file_format: str) -> int:
    """Read the whole file once before storing anything: how many records it holds.

    Refuses a file that is not UTF-8, not well-formed CSV, empty or over the row limit.
    """
    with decoded(file) as text:
        # Counted by map and sum, which run in C: no Python code per row.
        if file_format == FileFormat.JSONL:
            total = sum(map(bool, map(str.strip, text)))
        else:
            reader, _ = _csv_rows(text)
            try:
                total = sum(map(bool, reader))
            except csv.Error as error:
                raise FileRefused("bad_csv", f"Line {reader.line_num} cannot be read as CSV: {error}.") from None
    if total > settings.UPLOAD_MAX_ROWS:
        raise FileRefused("too_many_rows", f"A file holds at most {settings.UPLOAD_MAX_ROWS:,} rows.")
    if total == 0:
        raise FileRefused("empty_file", "The file holds no rows.")
    return total


def process(upload_id: int) -> Upload | None:
    """Run or resume an upload job to its end. Safe to call twice; returns None if there is nothing to do."""
    upload = claim(upload_id)
    if upload is None:
        return None
    try:
        with upload.file.storage.open(upload.file.name or "", "rb") as handle:
            file = handle.file  # the plain file object: Django's File iterates lines slowly
            assert file is not None
            if upload.rows_total is None:
                upload.rows_total = survey(file, upload.file_format)
                Upload.objects.filter(pk=upload.pk).update(rows_total=upload.rows_total)
            _run(upload, file)
    except FileRefused as refusal:
        return finish(upload, UploadStatus.FAILED, refusal.code, str(refusal))
    except Superseded:
        logger.warning("upload %s: another worker took the job over", upload.pk)
        return None
    return finish(upload, UploadStatus.SUCCEEDED)


MAX_ATTEMPTS = 5


def claim(upload_id: int) -> Upload | None:
    """Take the job for this worker, or give it up after ``MAX_ATTEMPTS`` starts that did not finish."""
    with transaction.atomic():
        upload = Upload.objects.select_for_update().filter(pk=upload_id).first()
        if upload is None or upload.is_finished:
            return None
        if upload.attempts >= MAX_ATTEMPTS:
            message = f"The job was started {upload.attempts} times without finishing; the platform's logs say why."
            finish(upload, UploadStatus.FAILED, "too_many_attempts", message)
            return None
        now = timezone.now()
        upload.status = UploadStatus.RUNNING
        upload.attempts += 1
        upload.started_at = upload.started_at or now
        upload.heartbeat_at = now
        upload.save(update_fields=["status", "attempts", "started_at", "heartbeat_at"])
    return upload


def _run(upload: Upload, file: IO[bytes]) -> None:
    """Check and stage chunks in a thread of their own while this one writes the previous chunk.

    The database work (COPY, merge, commit) waits on PostgreSQL, which runs on
    another core, with the GIL released; meanwhile the next chunk is checked.
    Only this thread touches the database.
    """
    key_record, key = data_key_for(upload.institution)
    chunks = prepared(
        records(file, upload.file_format, skip=upload.rows_done),  # resuming after the last committed chunk
        Checker(settings.PLATFORM_PEPPERS, timezone.localdate()),
        Stager(upload.institution_id, key),
        settings.UPLOAD_CHUNK_ROWS,
    )
    for chunk in in_background(chunks):
        _commit_chunk(upload, chunk, key_record)


@dataclass
class Chunk:
    """A chunk of records checked and staged, with its report lines, ready to be committed."""

    records: int
    staged: list[Staged]
    errors: list[tuple[int, FieldError]]
    rejected: int
    superseded: int


def prepared(source: Iterator[Record], checker: Checker, stager: Stager, size: int) -> Iterator[Chunk]:
    """Chunks of ``size`` records. Within a chunk the last valid row of a reference wins."""
    check, stage = checker.check, stager.stage
    while True:
        batch = list(islice(source, size))
        if not batch:
            return
        errors: list[tuple[int, FieldError]] = []
        valid: dict[str, Staged] = {}
        rejected = superseded = 0
        for line, fields, unreadable in batch:
            if fields is None:
                assert unreadable is not None
                errors.append((line, unreadable))
                rejected += 1
                continue
            result = check(fields)
            if type(result) is list:
                errors.extend((line, error) for error in result)
                rejected += 1
                continue
            staged = stage(result, line)  # type: ignore[arg-type]
            reference = staged[1]
            if reference in valid:
                earlier = valid.pop(reference)[0]
                assert earlier is not None
                errors.append((earlier, _superseded(earlier, line)))
                superseded += 1
            valid[reference] = staged
        yield Chunk(len(batch), list(valid.values()), errors, rejected, superseded)


def in_background(chunks: Iterator[Chunk], depth: int = 2) -> Iterator[Chunk]:
    """Run ``chunks`` in a thread, ``depth`` chunks ahead of the consumer; stop it if the consumer stops."""
    handoff: queue.Queue[Chunk | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        handoff.put(chunk, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put(None)
        except BaseException as error:  # handed to the consumer, which raises it
            handoff.put(error)

    thread = threading.Thread(target=produce, name="upload-checker", daemon=True)
    thread.start()
    try:
        while (item := handoff.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _commit_chunk(upload: Upload, chunk: Chunk, key_record: DataKey) -> None:
    """Store a chunk with its report lines and the job's new checkpoint, all in one transaction."""
    with transaction.atomic():
        current = Upload.objects.select_for_update().get(pk=upload.pk)
        if current.rows_done != upload.rows_done or current.is_finished:
            raise Superseded()
        now = timezone.now()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Safe without waiting for the log flush: the chunk and its checkpoint are lost or kept
                # together, and a lost chunk is simply done again from the previous checkpoint.
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            stored = (
                copy_and_merge(upload.institution, chunk.staged, key_record, upload, now) if chunk.staged else Stored()
            )
        else:
            stored = upsert_orm(upload.institution, chunk.staged, key_record, upload)
        lines = [_report(upload, row, error) for row, error in chunk.errors]
        lines += [_report(upload, earlier, _superseded(earlier, later)) for earlier, later in stored.superseded]
        UploadError.objects.bulk_create(lines, batch_size=1000)
        upload.rows_done += chunk.records
        upload.created_count += stored.created
        upload.updated_count += stored.updated
        upload.superseded_count += chunk.superseded + len(stored.superseded)
        upload.rejected_count += chunk.rejected
        upload.heartbeat_at = now
        upload.save(
            update_fields=[
                "rows_done",
                "created_count",
                "updated_count",
                "superseded_count",
                "rejected_count",
                "heartbeat_at",
            ]
        )


def _report(upload: Upload, row: int, error: FieldError) -> UploadError:
    return UploadError(upload=upload, row=row, field=error.field[:64], code=error.code, message=error.message[:500])


def _superseded(earlier: int, later: int) -> FieldError:
    return FieldError("reference", "superseded", f"Row {later} has the same reference; the later row was stored.")


def finish(upload: Upload, status: str, code: str = "", message: str = "") -> Upload:
    """Close the job, delete its file (it holds member tokens), and record the outcome."""
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload.pk)
        if upload.is_finished:
            return upload
        upload.status = status
        upload.error_code, upload.error = code, message
        upload.finished_at = timezone.now()
        name = upload.file.name
        upload.file = ""
        upload.save(update_fields=["status", "error_code", "error", "finished_at", "file"])
        record(
            AuditAction.UPLOAD_PROCESS,
            institution=upload.institution,
            target=upload,
            outcome=AuditOutcome.SUCCESS if status == UploadStatus.SUCCEEDED else AuditOutcome.FAILED,
            reason=code,
            subjects=upload.rows_done,
        )
        if name:
            storage = upload.file.storage
            transaction.on_commit(lambda: storage.delete(name))
    return upload
