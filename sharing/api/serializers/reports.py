"""Reports: a period asked for, and the job that builds it with its figures."""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sharing.api.serializers.common import (
    JOB_END,
    JOB_FIELDS,
    OBJECT_OR_NULL,
    JobSerializer,
    absolute,
    help_texts,
)
from sharing.choices import ReportFormat
from sharing.models import Report
from sharing.reports import jobs as reports


class ReportSerializer(JobSerializer):
    """A report job: its period, progress and links; the figures only in ``ReportDetailSerializer``."""

    class Meta:
        model = Report
        fields = ["id", "starts_on", "ends_on", "trigger", "status", "steps_done", "steps_total", *JOB_END]
        read_only_fields = fields
        extra_kwargs = help_texts(
            {
                **JOB_FIELDS,
                "starts_on": "The period's first day.",
                "ends_on": "The period's last day, included.",
                "trigger": "scheduled (the month before, built by beat) or requested.",
                "steps_done": "Steps of the build done so far, of steps_total.",
                "steps_total": "Steps of the build: gather, publish, the whole report's files, the members' slices.",
            }
        )

    @extend_schema_field(
        {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "self, and each file (csv, xlsx) with its detached signature (csv_signature, "
            "xlsx_signature).",
        }
    )
    def get_links(self, report: Report) -> dict[str, str]:
        paths = {"self": reverse("report-detail", args=[report.pk])}
        for file_format in ReportFormat.values:
            paths[file_format] = reverse("report-download", args=[report.pk, file_format])
            paths[f"{file_format}_signature"] = reverse("report-signature", args=[report.pk, file_format])
        return absolute(self.context, paths)


class ReportDetailSerializer(ReportSerializer):
    figures = serializers.SerializerMethodField(
        help_text="Once built: period, institutions, tables (each with name, rows, columns, cells, suppressed, "
        "by_institution) and notes. A suppressed cell is null with suppressed true. The multi-lending tables "
        "(multi_lending_by_sector_and_month, loans_opened_by_sector_and_month, lending_queries_by_sector_and_month) "
        "have a row per month and sector, coded YYYY-MM/sector. A member sees only its own rows of the tables by "
        "institution, none of the others."
    )

    class Meta(ReportSerializer.Meta):
        fields = [*ReportSerializer.Meta.fields, "figures"]
        read_only_fields = fields

    @extend_schema_field(OBJECT_OR_NULL)
    def get_figures(self, report: Report) -> dict[str, Any] | None:
        figures: dict[str, Any] | None = self.context["figures"]
        return figures


class ReportRequestSerializer(serializers.Serializer[dict[str, Any]]):
    starts_on = serializers.DateField(help_text="The period's first day.")
    ends_on = serializers.DateField(help_text="The period's last day, included; today at the latest.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        reports.check_period(attrs["starts_on"], attrs["ends_on"])
        return attrs
