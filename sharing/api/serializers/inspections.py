"""Inspections: a portfolio file sent, and the job that matches it."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.validators import validate_file_name, validate_label
from sharing.api.serializers.common import (
    FILE_JOB_FIELDS,
    FILE_JOB_START,
    JOB_END,
    JobSerializer,
    help_texts,
    links,
    with_file_format,
)
from sharing.api.serializers.queries import check_consent
from sharing.choices import CONSENT_MAX, PORTFOLIO_MAX, FileFormat, QueryPurpose
from sharing.models import Inspection


class InspectionCreateSerializer(serializers.Serializer[dict[str, Any]]):
    file = serializers.FileField(
        help_text="The portfolio: CSV with exactly the columns correlation_id, id_type, token, or JSON Lines; UTF-8.",
        validators=[validate_file_name],
    )
    format = serializers.ChoiceField(
        choices=FileFormat.choices, required=False, help_text="Taken from the file name (.csv, .jsonl) if omitted."
    )
    portfolio = serializers.CharField(
        max_length=PORTFOLIO_MAX,
        help_text="Names the portfolio (1 to 100 characters, trimmed): the results say what is new since the "
        "institution's last inspection of exactly this name.",
        validators=[validate_label],
    )
    purpose = serializers.ChoiceField(choices=QueryPurpose.choices, help_text="Why the portfolio is inspected.")
    consent_reference = serializers.CharField(
        max_length=CONSENT_MAX,
        required=False,
        allow_blank=True,
        help_text="The reference of the borrowers' written authorization, trimmed; required for loan_application "
        "and credit_review.",
        validators=[validate_label],
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_consent(attrs, portfolio=True)
        return with_file_format(attrs)


class InspectionSerializer(JobSerializer):
    class Meta:
        model = Inspection
        fields = [
            *["id", "portfolio", "purpose", "consent_reference"],
            *FILE_JOB_START,
            *[
                "rejected_count",
                "parts",
                "parts_done",
                "hits_count",
                "new_hits_count",
                "counts_by_category",
                "previous",
            ],
            *JOB_END,
        ]
        read_only_fields = fields
        extra_kwargs = help_texts(
            {
                **FILE_JOB_FIELDS,
                "rows_done": "The rows of the parts done so far, refused rows included; rows_total once it succeeded.",
                "parts": "How many parts the file was split into, for workers to match in parallel; 0 before.",
                "parts_done": "How many parts are matched.",
                "hits_count": "Subjects (distinct correlation ids) with at least one hit; null until it succeeded.",
                "new_hits_count": "Subjects with at least one hit new since the previous inspection of the "
                "portfolio; null until it succeeded, and without a previous inspection.",
                "counts_by_category": "For each category with hits, how many subjects have a hit in it; {} until "
                "it succeeded.",
                "previous": "The previous inspection of the portfolio, or null.",
            }
        )

    @extend_schema_field(
        {
            "type": "object",
            "properties": {"self": {"type": "string"}, "results": {"type": "string"}, "errors": {"type": "string"}},
        }
    )
    def get_links(self, inspection: Inspection) -> dict[str, str]:
        names = {"self": "inspection-detail", "results": "inspection-results", "errors": "inspection-errors"}
        return links(self.context, names, inspection.pk)
