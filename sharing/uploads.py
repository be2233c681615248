"""Processing an uploaded file of flags, chunk by chunk, resumable after a worker dies.

A job first reads the whole file once (``survey``): it must be UTF-8, well formed
and within the row limit, or it fails with nothing stored. Then each chunk of
``UPLOAD_CHUNK_ROWS`` records is checked row by row, stored, and committed in one
transaction together with its error-report lines and the job's checkpoint (the
byte offset and row count after the chunk). A worker that dies loses only the
chunk it had not committed; whoever resumes reads the checkpoint and carries on,
and since flags are upserted by reference nothing is ever stored twice.

Rows are numbered by the line of the file on which they start: the CSV header
is line 1. Within a file, the last valid row of a reference wins; each earlier
one is listed in the error report as ``superseded``.
"""

import csv
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.audit import record
from accounts.choices import AuditAction, AuditOutcome
from sharing.choices import FileFormat, UploadStatus
from sharing.models import Upload, UploadError
from sharing.rows import FIELDS, REQUIRED_FIELDS, CheckedFlag, Checker, FieldError
from sharing.storing import Stored, copy_and_merge, store_flags

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


def read_header(file: IO[bytes]) -> list[str]:
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


@dataclass
class Record:
    line: int  # the line on which the record starts
    end_line: int  # the line on which it ends
    end_offset: int  # the byte just after it
    item: dict[str, Any] | None  # None when ``error`` says why the record could not be read
    error: FieldError | None = None


class Lines:
    """Decoded lines of a binary file, counting line numbers and the bytes consumed."""

    def __init__(self, file: IO[bytes], offset: int, line: int) -> None:
        self.file, self.offset, self.line = file, offset, line

    def __iter__(self) -> Iterator[str]:
        for raw in self.file:
            self.line += 1
            try:
                text = raw.decode("utf-8-sig" if self.offset == 0 else "utf-8")
            except UnicodeDecodeError:
                raise FileRefused("not_utf8", f"Line {self.line} is not UTF-8 text; save the file as UTF-8.") from None
            self.offset += len(raw)
            yield text


def records(file: IO[bytes], file_format: str, offset: int, line: int, columns: list[str] | None) -> Iterator[Record]:
    """Every record from ``offset`` (just after ``line``), each with where it starts and ends."""
    file.seek(offset)
    lines = Lines(file, offset, line)
    if file_format == FileFormat.JSONL:
        for text in lines:
            if not text.strip():
                continue
            try:
                item = json.loads(text)
            except ValueError:
                error = FieldError("", "bad_json", "The line is not valid JSON.")
                yield Record(lines.line, lines.line, lines.offset, None, error)
                continue
            if not isinstance(item, dict):
                error = FieldError("", "bad_json", "The line is not a JSON object.")
                yield Record(lines.line, lines.line, lines.offset, None, error)
                continue
            yield Record(lines.line, lines.line, lines.offset, item)
        return
    assert columns is not None
    width = len(columns)
    reader = csv.reader(lines, strict=True)
    start = line + 1
    try:
        for values in reader:
            if not values:  # a blank line
                start = lines.line + 1
                continue
            if len(values) != width:
                error = FieldError("", "bad_row", f"The row has {len(values)} fields; the header has {width}.")
                yield Record(start, lines.line, lines.offset, None, error)
            else:
                yield Record(start, lines.line, lines.offset, dict(zip(columns, values, strict=True)))
            start = lines.line + 1
    except csv.Error as error:
        raise FileRefused("bad_csv", f"Line {lines.line} cannot be read as CSV: {error}.") from None


def data_start(file: IO[bytes], file_format: str) -> tuple[list[str] | None, int, int]:
    """A file's columns (CSV), and the byte offset and line after which its records start."""
    if file_format != FileFormat.CSV:
        return None, 0, 0
    file.seek(0)
    columns = read_header(file)
    if errors := header_errors(columns):
        raise FileRefused(errors[0].code, "; ".join(f"{e.field}: {e.message}" for e in errors))
    return columns, file.tell(), 1


def survey(file: IO[bytes], file_format: str) -> int:
    """Read the whole file once before storing anything: how many records it holds.

    Refuses a file that is not UTF-8, not well-formed CSV, empty or over the row limit.
    """
    columns, start, line = data_start(file, file_format)
    total = 0
    for _ in records(file, file_format, start, line, columns):
        total += 1
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


def claim(upload_id: int) -> Upload | None:
    with transaction.atomic():
        upload = Upload.objects.select_for_update().filter(pk=upload_id).first()
        if upload is None or upload.is_finished:
            return None
        now = timezone.now()
        upload.status = UploadStatus.RUNNING
        upload.attempts += 1
        upload.started_at = upload.started_at or now
        upload.heartbeat_at = now
        upload.save(update_fields=["status", "attempts", "started_at", "heartbeat_at"])
    return upload


def _run(upload: Upload, file: IO[bytes]) -> None:
    checker = Checker(settings.PLATFORM_PEPPERS, timezone.localdate())
    columns, offset, line = data_start(file, upload.file_format)
    if upload.byte_offset:  # resuming after the last committed chunk
        offset, line = upload.byte_offset, upload.checkpoint_line
    chunk: list[Record] = []
    for item in records(file, upload.file_format, offset, line, columns):
        chunk.append(item)
        if len(chunk) >= settings.UPLOAD_CHUNK_ROWS:
            _commit_chunk(upload, checker, chunk)
            chunk = []
    if chunk:
        _commit_chunk(upload, checker, chunk)


def _commit_chunk(upload: Upload, checker: Checker, chunk: list[Record]) -> None:
    errors: list[UploadError] = []
    valid: dict[str, tuple[int, CheckedFlag]] = {}
    for item in chunk:
        if item.item is None:
            assert item.error is not None
            errors.append(_report(upload, item.line, item.error))
            continue
        result = checker.check(item.item)
        if isinstance(result, list):
            errors.extend(_report(upload, item.line, error) for error in result)
            continue
        earlier = valid.pop(result.reference, None)
        if earlier is not None:
            errors.append(_superseded(upload, earlier[0], item.line))
        valid[result.reference] = (item.line, result)
    rejected = len({error.row for error in errors if error.code != "superseded"})
    in_chunk_superseded = sum(1 for error in errors if error.code == "superseded")
    flags = [flag for _, flag in valid.values()]
    rows = [row for row, _ in valid.values()]
    end = chunk[-1]
    with transaction.atomic():
        current = Upload.objects.select_for_update().get(pk=upload.pk)
        if current.byte_offset != upload.byte_offset or current.is_finished:
            raise Superseded()
        now = timezone.now()
        stored = _store(upload, flags, rows, now)
        errors.extend(_superseded(upload, earlier, later) for earlier, later in stored.superseded)
        UploadError.objects.bulk_create(errors, batch_size=1000)
        upload.rows_done += len(chunk)
        upload.byte_offset = end.end_offset
        upload.checkpoint_line = end.end_line
        upload.created_count += stored.created
        upload.updated_count += stored.updated
        upload.superseded_count += in_chunk_superseded + len(stored.superseded)
        upload.rejected_count += rejected
        upload.heartbeat_at = now
        upload.save(
            update_fields=[
                "rows_done",
                "byte_offset",
                "checkpoint_line",
                "created_count",
                "updated_count",
                "superseded_count",
                "rejected_count",
                "heartbeat_at",
            ]
        )


def _store(upload: Upload, flags: list[CheckedFlag], rows: list[int], now: Any) -> Stored:
    if not flags:
        return Stored()
    if connection.vendor == "postgresql":
        return copy_and_merge(upload.institution, flags, rows, upload, now)
    return store_flags(upload.institution, flags, upload=upload, rows=rows)


def _report(upload: Upload, row: int, error: FieldError) -> UploadError:
    return UploadError(upload=upload, row=row, field=error.field, code=error.code, message=error.message[:500])


def _superseded(upload: Upload, earlier: int, later: int) -> UploadError:
    return UploadError(
        upload=upload,
        row=earlier,
        field="reference",
        code="superseded",
        message=f"Row {later} has the same reference; the later row was stored.",
    )


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
