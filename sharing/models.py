"""Shared risk information: flags, the data keys that seal their details, jobs, and regulators' reports."""

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import models, transaction
from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiKey, Institution
from sharing.choices import (
    AmountBand,
    Category,
    FileFormat,
    FlagStatus,
    IdType,
    JobStatus,
    NoticeChannel,
    QueryPurpose,
    ReportFormat,
    ReportTrigger,
)


def uploads_storage() -> Storage:
    """Where upload files wait for their job (``STORAGES["uploads"]``), looked up when used."""
    return storages["uploads"]


class DataKey(models.Model):
    """An institution's key for its flag details, stored only wrapped by the master key.

    The master key itself is never in the database (``DETAILS_MASTER_KEY``), so a
    dump of this table, the flags and their ciphertexts reveals no details.
    """

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="data_keys")
    wrapped = models.BinaryField(_("wrapped key"))
    master_version = models.PositiveIntegerField(_("master key version"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    rewrapped_at = models.DateTimeField(_("re-wrapped"), null=True, blank=True)

    class Meta:
        verbose_name = _("data key")
        verbose_name_plural = _("data keys")
        constraints = [models.UniqueConstraint(fields=["institution"], name="one_data_key_per_institution")]

    def __str__(self) -> str:
        return f"data key {self.pk} of institution {self.institution_id} (master v{self.master_version})"


class Flag(models.Model):
    """What one member reports about one borrower, known to the platform only by platform token.

    ``reference`` is the member's own id for the case: sending it again updates the
    flag, until retention erases it. ``details`` is AES-256-GCM ciphertext under the institution's data key
    (``details_key``); only the contributing institution ever reads it.
    """

    # Each index and foreign-key check costs every one of millions of upserts. The unique (institution,
    # reference) serves lookups by institution; the keys and uploads that flags point to are never searched
    # from that side. The references to institutions and data keys are not checked by the database: a
    # deferred check per row would cost as much as the insert itself, the merge takes both ids from rows
    # it has just read, and neither institutions nor data keys are ever deleted (PROTECT, and no code path).
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="flags", db_index=False, db_constraint=False
    )
    # Both erased (NULL) when the flag expires: nothing then ties it to a borrower (services.apply_retention).
    reference = models.CharField(_("reference"), max_length=64, null=True)  # noqa: DJ001 - NULL: unique but erased
    id_type = models.CharField(_("identifier type"), max_length=16, choices=IdType.choices)
    token = models.BinaryField(_("platform token"), max_length=32, null=True)
    pepper_version = models.PositiveSmallIntegerField(_("pepper version"))
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    event_date = models.DateField(_("event date"))
    end_date = models.DateField(_("event end date"), null=True, blank=True)
    amount_band = models.CharField(_("amount band"), max_length=16, choices=AmountBand.choices, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=FlagStatus.choices, default=FlagStatus.ACTIVE)
    disputed = models.BooleanField(_("disputed"), default=False)
    notice_date = models.DateField(_("notice date"), null=True, blank=True)
    notice_channel = models.CharField(_("notice channel"), max_length=16, choices=NoticeChannel.choices, blank=True)
    details = models.BinaryField(_("sealed details"), null=True, blank=True)
    details_key = models.ForeignKey(
        DataKey, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False, db_constraint=False
    )
    details_destroyed_at = models.DateTimeField(_("details destroyed"), null=True, blank=True)
    withdrawal_reason = models.CharField(_("withdrawal reason"), max_length=500, blank=True)
    expires_on = models.DateField(_("expires on"))
    # Which upload (and which row of it) last wrote the flag; null when it came over REST.
    source_upload = models.ForeignKey(
        "Upload",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    source_row = models.PositiveIntegerField(_("source row"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("flag")
        verbose_name_plural = _("flags")
        constraints = [
            models.UniqueConstraint(fields=["institution", "reference"], name="one_flag_per_reference"),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("event_date")),
                name="flag_ends_after_it_starts",
            ),
        ]
        indexes = [
            models.Index(fields=["token"], name="flag_token"),
        ]

    def __str__(self) -> str:
        return f"flag {self.pk} ({self.category}) of institution {self.institution_id}"


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


class Upload(FileJob):
    """A file of flags processed by a worker in chunks, each chunk committed with its checkpoint.

    ``rows_done`` is the checkpoint: a resumed job skips that many records; the counts
    always add up to ``rows_done``: created + updated + superseded + rejected.
    """

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="uploads")
    file = models.FileField(_("file"), storage=uploads_storage, upload_to="flags/%Y/%m/%d/", blank=True)
    created_count = models.PositiveIntegerField(_("flags created"), default=0)
    updated_count = models.PositiveIntegerField(_("flags updated"), default=0)
    superseded_count = models.PositiveIntegerField(_("rows superseded"), default=0)
    heartbeat_at = models.DateTimeField(_("last checkpoint"), null=True, blank=True)

    class Meta:
        verbose_name = _("upload")
        verbose_name_plural = _("uploads")
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="upload_progress")]

    def __str__(self) -> str:
        return f"upload {self.pk} ({self.file_name})"


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


class UploadError(RowError):
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="errors")

    class Meta:
        verbose_name = _("upload error")
        verbose_name_plural = _("upload errors")
        indexes = [models.Index(fields=["upload", "row"], name="upload_error_row")]


class IdempotentRequest(models.Model):
    """The answer to a request sent with an ``Idempotency-Key``, replayed to its retries."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("idempotency key"), max_length=255)
    endpoint = models.CharField(_("endpoint"), max_length=64)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("status code"))
    body = models.JSONField(_("response body"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")
        constraints = [
            models.UniqueConstraint(fields=["institution", "endpoint", "key"], name="one_answer_per_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key}"


class ContributedCategory(models.Model):
    """When an institution last contributed a flag of a category.

    Reciprocity reads this small table instead of the flags: an institution that has
    contributed nothing within the window may not query, and by default sees only the
    categories it contributes itself.
    """

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    last_contributed_at = models.DateTimeField(_("last contributed"))

    class Meta:
        verbose_name = _("contributed category")
        verbose_name_plural = _("contributed categories")
        constraints = [
            models.UniqueConstraint(fields=["institution", "category"], name="one_row_per_contributed_category")
        ]

    def __str__(self) -> str:
        return f"{self.category} by institution {self.institution_id}"


class UsageCounter(models.Model):
    """How many subjects an institution has queried in a window (a minute, a day): quota and rate."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(_("period"), max_length=8)
    starts_at = models.DateTimeField(_("window start"))
    # Each web process counts in a row of its own (sharing.matching.quotas), so that two requests of one
    # member never wait for each other's row lock; the window's count is the sum of its shards.
    shard = models.PositiveSmallIntegerField(_("shard"), default=0)
    subjects = models.PositiveIntegerField(_("subjects"), default=0)

    class Meta:
        verbose_name = _("usage counter")
        verbose_name_plural = _("usage counters")
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "period", "starts_at", "shard"], name="one_counter_per_period_and_shard"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.subjects} subjects by institution {self.institution_id} in the {self.period} from {self.starts_at}"
        )


class Inspection(FileJob):
    """A post-loan self-inspection: a portfolio's member tokens matched against other members' flags.

    The file is split into parts that workers match in parallel; each part commits its
    hits and its own "done" mark together, and the last part to finish closes the job.
    ``previous`` is the portfolio's last successful inspection, against which hits are
    marked new.
    """

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="inspections")
    portfolio = models.CharField(_("portfolio"), max_length=100)
    purpose = models.CharField(_("purpose"), max_length=32, choices=QueryPurpose.choices)
    consent_reference = models.CharField(_("consent reference"), max_length=128, blank=True)
    # What the institution may see, fixed when the inspection is accepted (sharing.matching.queries); null means all.
    visible_categories = models.JSONField(_("visible categories"), null=True, blank=True)
    file = models.FileField(_("file"), storage=uploads_storage, upload_to="inspections/%Y/%m/%d/", blank=True)
    parts = models.PositiveIntegerField(_("parts"), default=0)
    parts_done = models.PositiveIntegerField(_("parts done"), default=0)
    hits_count = models.PositiveIntegerField(_("subjects hit"), null=True, blank=True)
    new_hits_count = models.PositiveIntegerField(_("subjects newly hit"), null=True, blank=True)
    counts_by_category = models.JSONField(_("subjects by category"), default=dict, blank=True)
    previous = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    heartbeat_at = models.DateTimeField(_("last part done"), null=True, blank=True)

    class Meta:
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")
        indexes = [models.Index(fields=["institution", "portfolio", "-id"], name="inspection_portfolio")]

    def __str__(self) -> str:
        return f"inspection {self.pk} of {self.portfolio}"

    @property
    def subjects_inspected(self) -> int:
        """The rows matched: those done, less those that could not be read."""
        return self.rows_done - self.rejected_count


class InspectionPart(models.Model):
    """One part of an inspection's file; ``done`` commits with the part's hits."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="part_rows")
    number = models.PositiveIntegerField(_("number"))
    done = models.BooleanField(_("done"), default=False)

    class Meta:
        verbose_name = _("inspection part")
        verbose_name_plural = _("inspection parts")
        constraints = [models.UniqueConstraint(fields=["inspection", "number"], name="one_row_per_inspection_part")]

    def __str__(self) -> str:
        return f"part {self.number} of inspection {self.inspection_id}"


class InspectionHit(models.Model):
    """One category of other members' flags on one inspected subject: counts only, never contributors."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="hits", db_constraint=False)
    row = models.PositiveIntegerField(_("row"))
    correlation_id = models.CharField(_("correlation id"), max_length=64)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    institutions = models.PositiveIntegerField(_("institutions"))
    latest_event_date = models.DateField(_("latest event"))
    disputed = models.BooleanField(_("disputed"))
    resolved = models.BooleanField(_("resolved"))
    new = models.BooleanField(_("new since the previous inspection"), default=False)

    class Meta:
        verbose_name = _("inspection hit")
        verbose_name_plural = _("inspection hits")
        indexes = [models.Index(fields=["inspection", "correlation_id", "category"], name="inspection_hit")]

    def __str__(self) -> str:
        return f"{self.correlation_id}: {self.category} in inspection {self.inspection_id}"


class InspectionError(RowError):
    """A portfolio row that was not matched: the report says why, so the member can mend and send it again."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="errors")

    class Meta:
        verbose_name = _("inspection error")
        verbose_name_plural = _("inspection errors")
        indexes = [models.Index(fields=["inspection", "row"], name="inspection_error_row")]


class Report(models.Model):
    """Aggregated figures over a period, for regulators (docs/reports.md), built by a worker.

    ``figures`` holds the tables as published: small cells and their complements are already
    suppressed there (null), so no stored report holds a count that may not be shown.
    """

    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    trigger = models.CharField(_("trigger"), max_length=16, choices=ReportTrigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(_("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    steps_done = models.PositiveSmallIntegerField(_("steps done"), default=0)
    steps_total = models.PositiveSmallIntegerField(_("steps in total"), default=0)
    figures = models.JSONField(_("figures"), null=True, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(starts_on__lte=models.F("ends_on")), name="report_period_in_order"
            ),
            models.UniqueConstraint(
                fields=["starts_on", "ends_on"],
                condition=models.Q(trigger=ReportTrigger.SCHEDULED),
                name="one_scheduled_report_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"Report {self.pk} ({self.starts_on} to {self.ends_on})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent_done(self) -> int:
        return percent(self.status, self.steps_done, self.steps_total)


class ReportFile(models.Model):
    """A report as a file, signed with the platform's report key: the whole report
    (``institution`` null) or one member's slice of it."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="files")
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    file_format = models.CharField(_("format"), max_length=8, choices=ReportFormat.choices)
    content = models.BinaryField(_("content"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    signature = models.BinaryField(_("Ed25519 signature"), max_length=64)

    class Meta:
        verbose_name = _("report file")
        verbose_name_plural = _("report files")
        constraints = [
            models.UniqueConstraint(
                fields=["report", "institution", "file_format"], name="one_report_file_per_slice_and_format"
            ),
            models.UniqueConstraint(
                fields=["report", "file_format"],
                condition=models.Q(institution__isnull=True),
                name="one_whole_report_file_per_format",
            ),
        ]

    def __str__(self) -> str:
        whose = f"institution {self.institution_id}" if self.institution_id else "whole"
        return f"Report {self.report_id} ({whose}, {self.file_format})"


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
