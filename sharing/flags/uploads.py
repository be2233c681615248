"""Processing an uploaded file of records (flags or loans), chunk by chunk, resumable after a worker dies.

The machinery is one for every kind of file; what a file holds is a ``Contribution``: its
``Layout``, the checking and staging of its rows (``Rows``, made once per run of an upload), and
how a chunk of staged rows is stored (``store``, which picks PostgreSQL's COPY path or the ORM's).
``FLAGS`` is the flags'; ``sharing.tasks`` picks the contribution of an upload by its ``kind``.

A job first reads the whole file once (``survey``): it must be UTF-8, well formed
and within the row limit, or it fails with nothing stored. Then each chunk of
``UPLOAD_CHUNK_ROWS`` records is checked row by row, stored, and committed in one
transaction together with its error-report lines and the job's checkpoint (the
number of records done). A worker that dies loses only the
chunk it had not committed; whoever resumes reads the checkpoint and carries on,
and since flags are upserted by reference nothing is ever stored twice.

Rows are numbered by the line of the file on which they start: the CSV header
is line 1. Within a file, the last valid row of a reference wins; each earlier
one is listed in the error report as ``superseded``. A stored row whose identifiers
meet another of the member's own records of the same kind on one token but differ
from it on another type is listed as ``shared_token``: a warning, not a refusal.
"""

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import IO, Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.audit import record
from accounts.choices import AuditAction, AuditOutcome
from sharing.choices import JobStatus
from sharing.flags.checking import OPTIONAL_FIELDS, REQUIRED_FIELDS, UNPROCESSABLE, Checker
from sharing.flags.reading import FileRefused, Layout, Record, records, survey
from sharing.flags.shared_tokens import shared_tokens
from sharing.flags.storing import Stager, Stored, store_chunk
from sharing.jobs import INTERNAL_ERROR, TRANSIENT, log_failure
from sharing.keys.datakeys import data_key_for
from sharing.keys.tokens import peppers
from sharing.messages import FieldError, english, refusal, stopped_after
from sharing.models import FlagToken, Upload, UploadError
from sharing.models.identifiers import BorrowerToken

logger = logging.getLogger(__name__)

# A row checked and ready to store, as a kind's stager makes it: a tuple with the row's line at [0], its
# reference at [1] (the last row of a reference wins) and its identifiers, ((id_type, platform token), ...),
# last (the shared-token warnings read them). The rest is the kind's own.
StagedRow = tuple[Any, ...]


class Rows(NamedTuple):
    """How the rows of one upload are checked and staged; called in the checker's thread, never on the database."""

    # A row's fields -> the checked record, or the refusals of its fields (a list of FieldError).
    check: Callable[[Mapping[str, Any]], Any]
    # A checked record and its line -> the staged row.
    stage: Callable[[Any, int], StagedRow]


@dataclass(frozen=True)
class Contribution:
    """What a kind of uploaded file holds, and how its rows are checked, staged and stored."""

    kind: str  # sharing.choices.UploadKind
    layout: Layout
    rows: Callable[[Upload], Rows]  # made once per run of an upload (its peppers, its keys, today)
    # A chunk's staged rows stored (COPY or ORM, chosen inside), in the chunk's transaction; what it did.
    store: Callable[[Upload, Sequence[Any], datetime], Stored]
    tokens: type[BorrowerToken]  # the kind's token table: a record's identifiers, for the shared-token warnings
    owner: str  # the tokens' foreign key to their record ("flag")


class Superseded(Exception):
    """Another runner has moved the job's checkpoint: this one stops."""


FLAG_FILE = Layout("flag file", REQUIRED_FIELDS, OPTIONAL_FIELDS)


def _flag_rows(upload: Upload) -> Rows:
    _key_record, key = data_key_for(upload.institution)
    return Rows(Checker(peppers(), timezone.localdate()).check, Stager(upload.institution_id, key).stage)


FLAGS = Contribution("flags", FLAG_FILE, _flag_rows, store_chunk, FlagToken, "flag")


def process(upload_id: int, contribution: Contribution = FLAGS) -> Upload | None:
    """Run or resume an upload job to its end. Safe to call twice; returns None if there is nothing to do."""
    upload = claim(upload_id)
    if upload is None:
        return None
    try:
        with upload.file.storage.open(upload.file.name or "", "rb") as handle:
            file = handle.file  # the plain file object: Django's File iterates lines slowly
            assert file is not None
            if upload.rows_total is None:
                upload.rows_total = survey(file, upload.file_format, contribution.layout, settings.UPLOAD_MAX_ROWS)
                Upload.objects.filter(pk=upload.pk).update(rows_total=upload.rows_total)
            _run(upload, file, contribution)
    except FileRefused as refused:
        return finish(upload, JobStatus.FAILED, refused.code, str(refused))
    except Superseded:
        logger.warning("upload %s: another worker took the job over", upload.pk)
        return None
    except TRANSIENT:
        raise  # left at its checkpoint for the broker or the stall sweep to resume (sharing.jobs)
    except Exception as error:
        reference = log_failure(logger, f"upload {upload.pk} stopped", error)
        done = Upload.objects.get(pk=upload.pk)  # what the last committed chunk says, not what was in hand
        message = stopped_after(done.rows_done, done.created_count + done.updated_count, reference)
        return finish(upload, JobStatus.FAILED, INTERNAL_ERROR, message)
    return finish(upload, JobStatus.SUCCEEDED)


MAX_ATTEMPTS = 5


def claim(upload_id: int) -> Upload | None:
    """Take the job for this worker, or give it up after ``MAX_ATTEMPTS`` starts that did not finish."""
    with transaction.atomic():
        upload = Upload.objects.select_for_update().filter(pk=upload_id).first()
        if upload is None or upload.is_finished:
            return None
        if upload.attempts >= MAX_ATTEMPTS:
            message = english("too_many_attempts", attempts=upload.attempts)
            finish(upload, JobStatus.FAILED, "too_many_attempts", message)
            return None
        now = timezone.now()
        upload.status = JobStatus.RUNNING
        upload.attempts += 1
        upload.started_at = upload.started_at or now
        upload.heartbeat_at = now
        upload.save(update_fields=["status", "attempts", "started_at", "heartbeat_at"])
    return upload


def _run(upload: Upload, file: IO[bytes], contribution: Contribution) -> None:
    """Check and stage chunks in a thread of their own while this one writes the previous chunk.

    The database work (COPY, merge, commit) waits on PostgreSQL, which runs on
    another core, with the GIL released; meanwhile the next chunk is checked.
    Only this thread touches the database.
    """
    chunks = prepared(
        # resuming after the last committed chunk
        records(file, upload.file_format, contribution.layout, skip=upload.rows_done),
        contribution.rows(upload),
        settings.UPLOAD_CHUNK_ROWS,
    )
    for chunk in in_background(chunks):
        _commit_chunk(upload, chunk, contribution)


@dataclass
class Chunk:
    """A chunk of records checked and staged, with its report lines, ready to be committed."""

    records: int
    staged: list[StagedRow]
    errors: list[tuple[int, FieldError]]
    rejected: int
    superseded: int


def prepared(source: Iterator[Record], rows: Rows, size: int) -> Iterator[Chunk]:
    """Chunks of ``size`` records. Within a chunk the last valid row of a reference wins.

    A row that raises anything while it is checked or staged is refused as ``unprocessable_row``:
    whatever a row holds, it costs that row and never the job.
    """
    check, stage = rows
    while True:
        batch = list(islice(source, size))
        if not batch:
            return
        errors: list[tuple[int, FieldError]] = []
        valid: dict[str, StagedRow] = {}
        rejected = superseded = 0
        logged = False
        for line, fields, unreadable in batch:
            if fields is None:
                assert unreadable is not None
                errors.append((line, unreadable))
                rejected += 1
                continue
            try:
                result = check(fields)
                if type(result) is list:
                    errors.extend((line, error) for error in result)
                    rejected += 1
                    continue
                staged = stage(result, line)
            except Exception as error:  # whatever the row holds, it costs the row, never the job
                if not logged:  # once a chunk: a file of such rows must not flood the log
                    log_failure(logger, f"the row on line {line} was refused", error)
                    logged = True
                errors.append((line, UNPROCESSABLE))
                rejected += 1
                continue
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


def _commit_chunk(upload: Upload, chunk: Chunk, contribution: Contribution) -> None:
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
        stored = contribution.store(upload, chunk.staged, now) if chunk.staged else Stored()
        lines = [_report(upload, row, error) for row, error in chunk.errors]
        lines += [_report(upload, earlier, _superseded(earlier, later)) for earlier, later in stored.superseded]
        lines += [
            _report(upload, row, SHARED_TOKEN)
            for row in shared_tokens(upload.institution_id, chunk.staged, contribution.tokens, contribution.owner)
        ]
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


SHARED_TOKEN = refusal("identifiers", "shared_token")


def _superseded(earlier: int, later: int) -> FieldError:
    return FieldError("reference", "superseded", english("superseded", row=later))


def finish(upload: Upload, status: str, code: str = "", message: str = "") -> Upload:
    """Close the job, delete its file (it holds member tokens), and record the outcome."""
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload.pk)
        if upload.is_finished:
            return upload
        upload.status = status
        upload.error_code, upload.error = code, message
        upload.finished_at = timezone.now()
        upload.release_file()
        upload.save(update_fields=["status", "error_code", "error", "finished_at", "file"])
        record(
            AuditAction.UPLOAD_PROCESS,
            institution=upload.institution,
            target=upload,
            outcome=AuditOutcome.SUCCESS if status == JobStatus.SUCCEEDED else AuditOutcome.FAILED,
            reason=code,
            subjects=upload.rows_done,
        )
    return upload
