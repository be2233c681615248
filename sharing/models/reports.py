"""Regulators' reports: the figures of a period and their signed files."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Institution
from sharing.choices import (
    JobStatus,
    ReportFormat,
    ReportTrigger,
)
from sharing.models.jobs import FINISHED, percent


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
