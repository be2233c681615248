"""Inspections: a portfolio file sent, and the job that matches it."""

import json
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.utils import html

from accounts.validators import validate_file_name, validate_label
from memberkit import vocabulary
from sharing.api.serializers.common import (
    FILE_JOB_FIELDS,
    FILE_JOB_START,
    JOB_END,
    JobSerializer,
    help_texts,
    links,
    with_file_format,
)
from sharing.api.serializers.queries import NoteSerializer, check_consent
from sharing.choices import CONSENT_MAX, PORTFOLIO_MAX, FileFormat, QueryPurpose
from sharing.flags.reading import shown
from sharing.matching import queries as matching
from sharing.messages import message
from sharing.models import Inspection

THRESHOLD_FIGURES = vocabulary.LENDING_THRESHOLD_FIGURES
THRESHOLD_MAX = 1_000_000  # more institutions or loans than any borrower has: a threshold no rise reaches


@extend_schema_field(
    {
        "type": "object",
        "properties": {name: {"type": "integer", "minimum": 1, "maximum": THRESHOLD_MAX} for name in THRESHOLD_FIGURES},
        "additionalProperties": False,
    }
)
class LendingThresholdsField(serializers.Field):  # type: ignore[type-arg]
    """{figure: at least}: how much a multi-lender figure must rise for a subject to count as new.

    In a multipart form, one field per figure (``lending_thresholds.institutions_queried_30d=2``, as the
    portal's form sends them; an empty one is no threshold), or the whole object as JSON text in
    ``lending_thresholds``. An error names the figure (``lending_thresholds.<figure>``), never echoing a value.
    """

    def get_value(self, dictionary: Any) -> Any:
        if not html.is_html_input(dictionary):
            return dictionary.get(self.field_name, empty)
        if self.field_name in dictionary:
            return dictionary.get(self.field_name)
        given = html.parse_html_dict(dictionary, prefix=self.field_name or "")
        return {name: given.get(name) for name in given if given.get(name) != ""} or empty

    def to_internal_value(self, data: Any) -> dict[str, int]:
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except (ValueError, RecursionError):
                data = None
        if type(data) is not dict:
            raise serializers.ValidationError(message("bad_lending_thresholds"), code="bad_lending_thresholds")
        thresholds: dict[str, int] = {}
        errors: dict[str, Any] = {}
        for name, value in data.items():
            if name not in THRESHOLD_FIGURES:
                errors[shown(str(name))] = [serializers.ErrorDetail(message("unknown_figure"), code="unknown_figure")]
                continue
            try:
                thresholds[name] = _THRESHOLD.run_validation(value)
            except serializers.ValidationError as error:
                errors[name] = error.detail
        if errors:
            raise serializers.ValidationError(errors)
        return thresholds

    def to_representation(self, value: dict[str, int]) -> dict[str, int]:
        return value


_THRESHOLD = serializers.IntegerField(min_value=1, max_value=THRESHOLD_MAX)


class InspectionCreateSerializer(serializers.Serializer[dict[str, Any]]):
    file = serializers.FileField(
        help_text="The portfolio: CSV with the columns correlation_id, id_type, token and, for a subject's other "
        "identifiers, id_type_2, token_2 ... id_type_5, token_5; or JSON Lines, each line with the same fields or "
        "with identifiers: [{id_type, token}, ...]. UTF-8.",
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
    lending_thresholds = LendingThresholdsField(
        required=False,
        help_text="How much a multi-lender figure must rise since the portfolio's previous inspection for a subject "
        "to count as new: {figure: at least}, 1 to 1,000,000, for institutions_queried_7d, institutions_queried_30d, "
        "institutions_queried_90d, institutions_with_open_loans, loans_opened_90d and loans_opened_180d. As one "
        'form field per figure (lending_thresholds.institutions_queried_30d=2) or as JSON text ({"institutions_'
        'queried_30d": 2}). None by default: then only flags make a subject new.',
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_consent(attrs, portfolio=True)
        return with_file_format(attrs)


class InspectionSerializer(JobSerializer):
    lending_thresholds = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="The thresholds sent: {figure: at least}; {} when none were.",
    )
    lending_note = serializers.SerializerMethodField()

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
                "lending_thresholds",
                "lending_count",
                "lending_note",
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
                "new_hits_count": "Subjects new since the previous inspection of the portfolio, by a hit or by a "
                "multi-lender figure that rose by its threshold; each counted once; null until it succeeded, and "
                "without a previous inspection.",
                "lending_count": "Subjects with a figure of other institutions' lending that is not zero (the "
                "institution's own queries and loans alone do not count); null until it succeeded, and when "
                "lending_note says why there are no figures.",
                "counts_by_category": "For each category with hits, how many subjects have a hit in it; {} until "
                "it succeeded.",
                "previous": "The previous inspection of the portfolio, or null.",
            }
        )

    @extend_schema_field(
        NoteSerializer(
            allow_null=True,
            help_text="Why the subjects have no multi-lender figures: no_loan_contributions (the institution had "
            "reported no loans within MATCH_RECIPROCITY_DAYS when the file was accepted); null when they have.",
        )
    )
    def get_lending_note(self, inspection: Inspection) -> dict[str, str] | None:
        return matching.lending_note(loans_reciprocal=not inspection.lending_note)

    @extend_schema_field(
        {
            "type": "object",
            "properties": {"self": {"type": "string"}, "results": {"type": "string"}, "errors": {"type": "string"}},
        }
    )
    def get_links(self, inspection: Inspection) -> dict[str, str]:
        names = {"self": "inspection-detail", "results": "inspection-results", "errors": "inspection-errors"}
        return links(self.context, names, inspection.pk)
