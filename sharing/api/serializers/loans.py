"""Loans: a batch as members send it, what was stored, and a loan as its institution reads it."""

from typing import Any

from rest_framework import serializers

from sharing.api.serializers.common import batch_items, help_texts, identifier_fields
from sharing.choices import CONSENT_MAX, REFERENCE_MAX, AmountBand, ProductType
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
    id_type, token, identifiers = identifier_fields()
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
        return {"loans": batch_items(data, "loans")}


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
