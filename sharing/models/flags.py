"""Flags, the uploads that bring them, and what a member's contributions leave behind."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Institution
from sharing.choices import (
    REFERENCE_MAX,
    AmountBand,
    Category,
    FlagStatus,
    NoticeChannel,
    UploadKind,
)
from sharing.models.identifiers import BorrowerToken
from sharing.models.jobs import FileJob, RowError, uploads_storage
from sharing.models.keys import DataKey


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
    # Erased (NULL) when the flag expires, with its tokens: nothing then ties it to a borrower
    # (services.apply_retention). The borrower's identifiers are the flag's FlagToken rows.
    reference = models.CharField(_("reference"), max_length=REFERENCE_MAX, null=True)  # noqa: DJ001 - NULL: unique but erased
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

    def __str__(self) -> str:
        return f"flag {self.pk} ({self.category}) of institution {self.institution_id}"


class FlagToken(BorrowerToken):
    """One of a flag's identifiers; a query finds the flag by any of them."""

    # Not checked by the database, as the flag's own references are not (above): every token is written
    # by the statement that has just written its flag, and deleted with it.
    flag = models.ForeignKey(Flag, on_delete=models.CASCADE, related_name="tokens", db_constraint=False, db_index=False)

    class Meta:
        verbose_name = _("flag identifier")
        verbose_name_plural = _("flag identifiers")
        constraints = [models.UniqueConstraint(fields=["flag", "id_type"], name="one_flag_token_per_type")]
        indexes = [models.Index(fields=["token"], name="flagtoken_token")]

    def __str__(self) -> str:
        return f"{self.id_type} of flag {self.flag_id}"


class Upload(FileJob):
    """A file of flags or of loans (``kind``), processed by a worker in chunks, each committed with its checkpoint.

    ``rows_done`` is the checkpoint: a resumed job skips that many records; the counts
    always add up to ``rows_done``: created + updated + superseded + rejected.
    """

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="uploads")
    kind = models.CharField(_("kind"), max_length=8, choices=UploadKind.choices, default=UploadKind.FLAGS)
    file = models.FileField(_("file"), storage=uploads_storage, upload_to="flags/%Y/%m/%d/", blank=True)
    created_count = models.PositiveIntegerField(_("records created"), default=0)
    updated_count = models.PositiveIntegerField(_("records updated"), default=0)
    superseded_count = models.PositiveIntegerField(_("rows superseded"), default=0)
    heartbeat_at = models.DateTimeField(_("last checkpoint"), null=True, blank=True)

    class Meta:
        verbose_name = _("upload")
        verbose_name_plural = _("uploads")
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="upload_progress")]

    def __str__(self) -> str:
        return f"upload {self.pk} ({self.file_name})"


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
