"""Loans: a batch as members send it, what was stored, and a loan as its institution reads it."""

from typing import Any

from django.conf import settings
from rest_framework import serializers

from sharing.api.serializers.common import IdentifierSerializer, help_texts
from sharing.choices import CONSENT_MAX, IDENTIFIERS_MAX, REFERENCE_MAX, AmountBand, IdType, ProductType
from sharing.messages import english, message
from sharing.models import Loan


class LoanInputSerializer(serializers.Serializer[dict[str, Any]]):
    """One loan as a member reports it. ``sharing.loans.checking`` checks it; these fields document it.

    The borrower's identifiers come in one of two forms: ``id_type`` and ``token`` (with
    ``id_type_2`` and ``token_2`` up to ``id_type_5`` and ``token_5`` for more), or a list
    ``identifiers``; at most one of each type.
    """

    reference = serializers.CharField(
        max_length=REFERENCE_MAX,
        help_text="The member's own id for the loan; unique per member. Sent again, it updates.",
    )
    id_type = serializers.ChoiceField(
        choices=IdType.choices, required=False, help_text="The first identifier's type (or give identifiers)."
    )
    token = serializers.CharField(
        min_length=64,
        max_length=64,
        required=False,
        help_text="The first identifier's member token; id_type_2/token_2 ... id_type_5/token_5 add others.",
    )
    identifiers = IdentifierSerializer(
        many=True,
        required=False,
        help_text=f"Instead of id_type and token: 1 to {IDENTIFIERS_MAX} identifiers, at most one of each type.",
    )
    product = serializers.ChoiceField(choices=ProductType.choices)
    opened_on = serializers.DateField(help_text="When the loan was opened; not in the future.")
    closed_on = serializers.DateField(
        required=False, allow_null=True, help_text="When it was repaid or closed; not before opened_on."
    )
    amount_band = serializers.ChoiceField(choices=AmountBand.choices)
    consent_reference = serializers.CharField(
        max_length=CONSENT_MAX,
        help_text="The reference of the borrower's written authorization to report the loan: your own "
        "record number, never an identifier. Required.",
    )


class LoanBatchSerializer(serializers.Serializer[dict[str, Any]]):
    """``{"loans": [...]}``. Each item is checked by ``sharing.loans.checking`` in the service, not here."""

    loans = LoanInputSerializer(many=True, help_text="1 to 1,000 loans.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get("loans"), list):
            raise serializers.ValidationError(
                {"loans": [serializers.ErrorDetail(english("required", "loans"), code="required")]}
            )
        loans = data["loans"]
        if not 1 <= len(loans) <= settings.FLAG_BATCH_MAX:  # the same limit as a batch of flags
            said = message("batch_size", "loans", most=f"{settings.FLAG_BATCH_MAX:,}", sent=f"{len(loans):,}")
            raise serializers.ValidationError({"loans": [serializers.ErrorDetail(said, code="batch_size")]})
        for index, item in enumerate(loans):
            if not isinstance(item, dict):
                by_index: dict[Any, Any] = {index: [serializers.ErrorDetail(message("invalid", "loans"), "invalid")]}
                raise serializers.ValidationError({"loans": by_index})
        return {"loans": loans}


class StoredLoanSerializer(serializers.Serializer[dict[str, Any]]):
    reference = serializers.CharField()
    id = serializers.IntegerField()
    open = serializers.BooleanField(help_text="True unless the loan has a closed_on.")


class LoanBatchResultSerializer(serializers.Serializer[dict[str, Any]]):
    created = serializers.IntegerField(help_text="Loans created.")
    updated = serializers.IntegerField(help_text="Loans updated: the institution had sent their reference before.")
    loans = StoredLoanSerializer(many=True, help_text="What was stored, in the order sent.")


class LoanSerializer(serializers.ModelSerializer[Loan]):
    """A loan as its own institution sees it: the types of the borrower's identifiers, never their tokens."""

    id_types = serializers.SerializerMethodField(help_text="The types of the loan's identifiers, in the order sent.")

    class Meta:
        model = Loan
        fields = [
            "id",
            "reference",
            "id_types",
            "product",
            "opened_on",
            "closed_on",
            "amount_band",
            "consent_reference",
            "expires_on",
            "source_upload",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = help_texts(
            {
                "reference": "The member's own id for the loan; null once retention has erased it.",
                "closed_on": "When the loan closed; null while it is open.",
                "consent_reference": "The reference of the borrower's authorization; empty once erased.",
                "expires_on": "The end of retention: five years after the loan closed; null while it is open.",
                "source_upload": "The upload that last wrote the loan; null for a batch.",
            }
        )

    def get_id_types(self, loan: Loan) -> list[str]:
        # From the prefetched tokens (the view's queryset): types only, the tokens are never read out.
        return [token.id_type for token in loan.tokens.all()]
