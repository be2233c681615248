"""Queries' counters and post-loan inspections: their parts, hits and refused rows."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Institution
from sharing.choices import (
    CONSENT_MAX,
    CORRELATION_MAX,
    PORTFOLIO_MAX,
    AmountBand,
    Category,
    QueryPurpose,
)
from sharing.models.jobs import FileJob, RowError, uploads_storage


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


class QueryRecord(models.Model):
    """An institution looked a borrower up for lending (a loan application or a credit review) on a day.

    One row per platform token of each subject answered for a lending purpose; a second query of
    the same borrower by the same institution, for the same purpose on the same day, adds nothing.
    Kept ``QUERY_RECORD_YEARS`` and then deleted by the retention run. No member ever reads another
    member's records one by one: answers count the distinct institutions (docs/matching.md).
    """

    # The unique index serves the look-up too: by token, then by day.
    token = models.BinaryField(_("platform token"), max_length=32)
    day = models.DateField(_("day"))
    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    purpose = models.CharField(_("purpose"), max_length=32, choices=QueryPurpose.choices)
    pepper_version = models.PositiveSmallIntegerField(_("pepper version"))

    class Meta:
        verbose_name = _("query record")
        verbose_name_plural = _("query records")
        constraints = [
            models.UniqueConstraint(fields=["token", "day", "institution", "purpose"], name="one_query_record_per_day")
        ]
        indexes = [models.Index(fields=["day"], name="query_record_day")]

    def __str__(self) -> str:
        return f"query by institution {self.institution_id} on {self.day}"


class Inspection(FileJob):
    """A post-loan self-inspection: a portfolio's member tokens matched against other members' flags.

    The file is split into parts that workers match in parallel; each part commits its
    hits and its own "done" mark together, and the last part to finish closes the job.
    ``previous`` is the portfolio's last successful inspection, against which hits are
    marked new.
    """

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="inspections")
    portfolio = models.CharField(_("portfolio"), max_length=PORTFOLIO_MAX)
    purpose = models.CharField(_("purpose"), max_length=32, choices=QueryPurpose.choices)
    consent_reference = models.CharField(_("consent reference"), max_length=CONSENT_MAX, blank=True)
    # What the institution may see, fixed when the inspection is accepted (sharing.matching.queries); null means all.
    visible_categories = models.JSONField(_("visible categories"), null=True, blank=True)
    file = models.FileField(_("file"), storage=uploads_storage, upload_to="inspections/%Y/%m/%d/", blank=True)
    parts = models.PositiveIntegerField(_("parts"), default=0)
    parts_done = models.PositiveIntegerField(_("parts done"), default=0)
    hits_count = models.PositiveIntegerField(_("subjects hit"), null=True, blank=True)
    new_hits_count = models.PositiveIntegerField(_("subjects newly hit"), null=True, blank=True)
    counts_by_category = models.JSONField(_("subjects by category"), default=dict, blank=True)
    # How much a multi-lender figure must rise since the previous inspection for the subject to count as
    # new: {figure: at least}, the figures of vocabulary.LENDING_FIGURES that are counts; empty: none.
    lending_thresholds = models.JSONField(_("multi-lender thresholds"), default=dict, blank=True)
    lending_count = models.PositiveIntegerField(_("subjects with multi-lender figures"), null=True, blank=True)
    # Why the subjects have no multi-lender figures (no_loan_contributions), decided when the inspection is
    # accepted, as its visible categories are; empty when they have them.
    lending_note = models.CharField(_("multi-lender note"), max_length=32, blank=True)
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
    correlation_id = models.CharField(_("correlation id"), max_length=CORRELATION_MAX)
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


class InspectionLending(models.Model):
    """The multi-lender figures of one inspected subject, kept only where one of them is not zero."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="lending", db_constraint=False)
    row = models.PositiveIntegerField(_("row"))
    correlation_id = models.CharField(_("correlation id"), max_length=CORRELATION_MAX)
    institutions_queried_7d = models.PositiveIntegerField(default=0)
    institutions_queried_30d = models.PositiveIntegerField(default=0)
    institutions_queried_90d = models.PositiveIntegerField(default=0)
    institutions_with_open_loans = models.PositiveIntegerField(default=0)
    loans_opened_90d = models.PositiveIntegerField(default=0)
    loans_opened_180d = models.PositiveIntegerField(default=0)
    open_amount_band = models.CharField(max_length=16, choices=AmountBand.choices, blank=True)
    own_queries_90d = models.PositiveIntegerField(default=0)
    own_open_loans = models.PositiveIntegerField(default=0)
    own_loans_opened_180d = models.PositiveIntegerField(default=0)
    new = models.BooleanField(_("jumped since the previous inspection"), default=False)

    class Meta:
        verbose_name = _("inspected subject's multi-lender figures")
        verbose_name_plural = _("inspected subjects' multi-lender figures")
        indexes = [models.Index(fields=["inspection", "correlation_id"], name="inspection_lending")]

    def __str__(self) -> str:
        return f"{self.correlation_id}: lending in inspection {self.inspection_id}"


class InspectionError(RowError):
    """A portfolio row that was not matched: the report says why, so the member can mend and send it again."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="errors")

    class Meta:
        verbose_name = _("inspection error")
        verbose_name_plural = _("inspection errors")
        indexes = [models.Index(fields=["inspection", "row"], name="inspection_error_row")]
