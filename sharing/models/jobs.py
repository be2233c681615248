"""What every job (an upload, an inspection, a report) has in common, and the workers' heartbeat."""

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import models, transaction
from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiKey
from sharing.choices import (
    FileFormat,
    JobStatus,
)


def uploads_storage() -> Storage:
    """Where upload files wait for their job (``STORAGES["uploads"]``), looked up when used."""
    return storages["uploads"]


FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED)


def percent(status: str, done: int, total: int | None) -> int:
    """A job's work done out of its total (rows, or a report's steps), in whole percent; a
    succeeded job is at 100."""
    if status == JobStatus.SUCCEEDED:
        return 100
    if not total:
        return 0
    return 100 * done // total


class FileJob(models.Model):
    """A member's file that a worker processes: who sent it, the file, and the job's progress.

    The file waits in upload storage until the job ends, and is deleted then. Each kind of job
    names its own institution field, file field and heartbeat: their related names, folders
    and labels differ.
    """

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    file_name = models.CharField(_("file name"), max_length=255)
    file_format = models.CharField(_("format"), max_length=8, choices=FileFormat.choices)
    size_bytes = models.BigIntegerField(_("size in bytes"))
    status = models.CharField(_("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    rows_total = models.PositiveIntegerField(_("rows in total"), null=True, blank=True)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    rejected_count = models.PositiveIntegerField(_("rows rejected"), default=0)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    file: FieldFile  # each kind of job declares its own, for its own folder

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent_done(self) -> int:
        return percent(self.status, self.rows_done, self.rows_total)

    def release_file(self) -> None:
        """Forget the stored file, and delete it once the transaction commits: it holds member tokens.

        Call it inside the transaction that saves the job's end; the caller saves ``file``.
        """
        name, storage = self.file.name, self.file.storage
        self.file = ""  # type: ignore[assignment]
        if name:
            transaction.on_commit(lambda: storage.delete(name))


class RowError(models.Model):
    """One line of a file's error report: which row, which field, why. Never the row's values."""

    row = models.PositiveIntegerField(_("row"))
    field = models.CharField(_("field"), max_length=64, blank=True)
    code = models.CharField(_("code"), max_length=64)
    message = models.CharField(_("message"), max_length=500)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"row {self.row} {self.field}: {self.code}"


class WorkerHeartbeat(models.Model):
    """A Celery worker's latest sign of life (``sharing.heartbeat``).

    Without it a dead worker is invisible: jobs stay queued with nothing to say why. From
    these rows ``/readyz`` reports workers down and the job pages tell the member that no
    worker is running.
    """

    node = models.CharField(_("worker"), max_length=255, unique=True)
    seen_at = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self) -> str:
        return f"{self.node} seen {self.seen_at:%Y-%m-%d %H:%M:%S}"
