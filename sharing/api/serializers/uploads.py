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
from sharing.models import Upload


class UploadCreateSerializer(serializers.Serializer[dict[str, Any]]):
    file = serializers.FileField(
        help_text="CSV with a header line, or JSON Lines; UTF-8.", validators=[validate_file_name]
    )
    format = serializers.ChoiceField(
        choices=FileFormat.choices, required=False, help_text="Taken from the file name (.csv, .jsonl) if omitted."
    )
    kind = serializers.ChoiceField(
        choices=[(value, label) for value, label in UploadKind.choices if value in tasks.CONTRIBUTIONS],
        default=UploadKind.FLAGS,
        help_text="What the file holds: flags (the default) or loans.",
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


class UploadSummarySerializer(serializers.Serializer[dict[str, Any]]):
    """An upload's rows reconciled: what became of them, the report by code, and the flags it wrote."""

    upload = UploadSerializer()
    report_lines_by_code = serializers.DictField(
        child=serializers.IntegerField(min_value=1),
        help_text="The error report's lines counted by code; a refused row has a line per field at fault.",
    )
    flags = FlagSummarySerializer(help_text="Flags whose latest write came from this upload.")
