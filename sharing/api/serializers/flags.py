"""Flags: a batch as members send it, a flag as its institution reads it, a change, the counts."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.validators import validate_label
from sharing.api.serializers.common import OBJECT_OR_NULL, batch_items, help_texts, identifier_fields
from sharing.choices import (
    FLAG_CHANGES,
    REFERENCE_MAX,
    AmountBand,
    Category,
    FlagStatus,
    IdType,
    NoticeChannel,
)
from sharing.flags.selectors import FlagCounts, identifier_types
from sharing.keys import datakeys as keys
from sharing.messages import message
from sharing.models import Flag


class FlagInputSerializer(serializers.Serializer[dict[str, Any]]):
    """One flag as a member sends it. ``sharing.flags.checking`` checks it; these fields document it.

    The borrower's identifiers come in one of two forms: ``id_type`` and ``token`` (with
    ``id_type_2`` and ``token_2`` up to ``id_type_5`` and ``token_5`` for more), or a list
    ``identifiers``; one to five, at most one of each type.
    """

    reference = serializers.CharField(
        max_length=REFERENCE_MAX, help_text="The member's own id for the case; unique per member."
    )
    id_type, token, identifiers = identifier_fields()
    category = serializers.ChoiceField(choices=Category.choices)
    event_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True, help_text="When the event ended; resolves it.")
    amount_band = serializers.ChoiceField(choices=AmountBand.choices, required=False, allow_blank=True)
    notice_date = serializers.DateField(required=False, allow_null=True, help_text="Required for negative categories.")
    notice_channel = serializers.ChoiceField(choices=NoticeChannel.choices, required=False, allow_blank=True)
    details = serializers.JSONField(required=False, help_text="A JSON object, sealed at rest; only you read it.")


class FlagBatchSerializer(serializers.Serializer[dict[str, Any]]):
    """``{"flags": [...]}``. Each item is checked by ``sharing.flags.checking`` in the service, not here."""

    flags = FlagInputSerializer(many=True, help_text="1 to 1,000 flags.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        return {"flags": batch_items(data, "flags")}


class StoredFlagSerializer(serializers.Serializer[dict[str, Any]]):
    reference = serializers.CharField()
    id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=FlagStatus.choices, help_text="resolved if it has an end_date, else active."
    )


class BatchResultSerializer(serializers.Serializer[dict[str, Any]]):
    created = serializers.IntegerField(help_text="Flags created.")
    updated = serializers.IntegerField(help_text="Flags updated: the institution had sent their reference before.")
    flags = StoredFlagSerializer(many=True, help_text="What was stored, in the order sent.")


class FlagSerializer(serializers.ModelSerializer[Flag]):
    """A flag as its own institution sees it. Its identifiers' types are shown, their tokens never."""

    id_types = serializers.SerializerMethodField(
        help_text="The types of the flag's identifiers, in the order sent; empty once retention has erased them."
    )
    id_type = serializers.SerializerMethodField(
        help_text="The first identifier's type (id_types[0]); null once retention has erased the identifiers."
    )
    has_details = serializers.SerializerMethodField(help_text="Whether the flag has details; a list never opens them.")

    class Meta:
        model = Flag
        fields = [
            "id",
            "reference",
            "id_types",
            "id_type",
            "category",
            "event_date",
            "end_date",
            "amount_band",
            "status",
            "disputed",
            "notice_date",
            "notice_channel",
            "has_details",
            "details_destroyed_at",
            "withdrawal_reason",
            "expires_on",
            "source_upload",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = help_texts(
            {
                "reference": "The member's own id for the case; null once retention has erased it.",
                "status": "active, resolved (the event ended), withdrawn (taken back) or expired (past retention).",
                "disputed": "Whether the borrower disputes the flag.",
                "details_destroyed_at": "When the details were destroyed (withdrawn or expired); null otherwise.",
                "withdrawal_reason": "Why the member withdrew the flag; empty otherwise.",
                "expires_on": "The end of retention: five years after the event ended (or happened, while open).",
                "source_upload": "The upload that last wrote the flag; null for a batch.",
            }
        )

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=IdType.choices)))
    def get_id_types(self, flag: Flag) -> list[str]:
        return identifier_types(flag)

    @extend_schema_field(serializers.ChoiceField(choices=IdType.choices, allow_null=True))
    def get_id_type(self, flag: Flag) -> str | None:
        types = identifier_types(flag)
        return types[0] if types else None

    def get_has_details(self, flag: Flag) -> bool:
        annotated = getattr(flag, "has_details", None)
        return annotated if annotated is not None else flag.details is not None


class FlagDetailSerializer(FlagSerializer):
    details = serializers.SerializerMethodField()

    class Meta(FlagSerializer.Meta):
        fields = [*FlagSerializer.Meta.fields, "details"]
        read_only_fields = fields

    @extend_schema_field(OBJECT_OR_NULL)
    def get_details(self, flag: Flag) -> dict[str, object] | None:
        return keys.details_of(flag)


class FlagChangeSerializer(serializers.Serializer[dict[str, Any]]):
    """Resolve a flag (the event ended on ``end_date``) or withdraw it (with a ``reason``)."""

    status = serializers.ChoiceField(choices=FLAG_CHANGES)
    end_date = serializers.DateField(required=False)
    reason = serializers.CharField(required=False, max_length=500, validators=[validate_label])

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["status"] == FlagStatus.RESOLVED and "end_date" not in attrs:
            raise serializers.ValidationError({"end_date": message("invalid", "end_date")})
        return attrs


class FlagCountSerializer(serializers.Serializer[dict[str, Any]]):
    category = serializers.ChoiceField(choices=Category.choices)
    status = serializers.ChoiceField(choices=FlagStatus.choices)
    count = serializers.IntegerField(min_value=1)


class FlagSummarySerializer(serializers.Serializer[FlagCounts]):
    """The caller's flags (as filtered) counted by category and status, to reconcile a book."""

    total = serializers.IntegerField(min_value=0)
    by_category = serializers.DictField(child=serializers.IntegerField(min_value=1))
    by_status = serializers.DictField(child=serializers.IntegerField(min_value=1))
    cells = FlagCountSerializer(many=True, help_text="Every (category, status) pair that has flags.")
