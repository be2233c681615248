"""Uploads: a file of flags or of loans sent, the job that stores it, and its rows reconciled."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.validators import validate_file_name
from sharing import tasks
from sharing.api.serializers.common import (
    FILE_JOB_FIELDS,
    FILE_JOB_START,
    JOB_END,
    JobSerializer,
    help_texts,
    links,
    with_file_format,
)
from sharing.api.serializers.flags import FlagSummarySerializer
from sharing.choices import FileFormat, UploadKind
from sharing.loans.selectors import LoanCounts
from sharing.models import Upload


class UploadCreateSerializer(serializers.Serializer[dict[str, Any]]):
    """The form of ``POST /api/v1/uploads``. ``kind`` comes first: the view checks the rule of the kind as soon
    as it is read (``sharing.api.uploads``), before the rest of the form."""

    kind = serializers.ChoiceField(
        choices=[(value, label) for value, label in UploadKind.choices if value in tasks.CONTRIBUTIONS],
        default=UploadKind.FLAGS,
        help_text="What the file holds: flags (the default) or loans. A caller who may not send files of that kind"
        " is answered 403, however wrong the rest of the form is.",
    )
    file = serializers.FileField(
        help_text="CSV with a header line, or JSON Lines; UTF-8.", validators=[validate_file_name]
    )
    format = serializers.ChoiceField(
        choices=FileFormat.choices, required=False, help_text="Taken from the file name (.csv, .jsonl) if omitted."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return with_file_format(attrs)


class UploadSerializer(JobSerializer):
    class Meta:
        model = Upload
        fields = [
            "id",
            "kind",
            *FILE_JOB_START,
            *["created_count", "updated_count", "superseded_count", "rejected_count"],
            *JOB_END,
        ]
        read_only_fields = fields
        extra_kwargs = help_texts(
            {
                **FILE_JOB_FIELDS,
                "kind": "What the file holds: flags or loans.",
                "created_count": "Records (flags or loans) created. With updated, superseded and rejected, it adds"
                " up to rows_done.",
                "updated_count": "Records updated: their reference was known.",
                "superseded_count": "Rows superseded by a later row with the same reference (in the error report).",
            }
        )

    @extend_schema_field(
        {
            "type": "object",
            "properties": {"self": {"type": "string"}, "errors": {"type": "string"}},
            "description": "self (this job) and errors (its error report, CSV).",
        }
    )
    def get_links(self, upload: Upload) -> dict[str, str]:
        return links(self.context, {"self": "upload-detail", "errors": "upload-errors"}, upload.pk)


class LoanStateCountSerializer(serializers.Serializer[dict[str, int]]):
    open = serializers.IntegerField(min_value=0, help_text="Loans without a closed_on.")
    closed = serializers.IntegerField(min_value=0, help_text="Loans with a closed_on.")


class LoanCountsSerializer(serializers.Serializer[LoanCounts]):
    """Loans counted by product type and by open or closed, to reconcile a book."""

    total = serializers.IntegerField(min_value=0)
    open = serializers.IntegerField(min_value=0, help_text="Loans without a closed_on.")
    closed = serializers.IntegerField(min_value=0, help_text="Loans with a closed_on.")
    by_product = serializers.DictField(
        child=LoanStateCountSerializer(),
        help_text="Each product type that has loans, with its open and closed loans counted.",
    )


class UploadSummarySerializer(serializers.Serializer[dict[str, Any]]):
    """An upload's rows reconciled: what became of them, the report by code, and the records it wrote."""

    upload = UploadSerializer()
    report_lines_by_code = serializers.DictField(
        child=serializers.IntegerField(min_value=1),
        help_text="The error report's lines counted by code; a refused row has a line per field at fault.",
    )
    flags = FlagSummarySerializer(
        help_text="Flags whose latest write came from this upload; none for an upload of loans (kind loans)."
    )
    loans = LoanCountsSerializer(
        help_text="Loans whose latest write came from this upload; none for an upload of flags (kind flags)."
    )
