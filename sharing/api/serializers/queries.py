"""Real-time queries: the question (purpose, consent, up to 100 subjects of 1 to 5 identifiers) and the answer."""

import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.fields import empty

from accounts.validators import validate_label
from memberkit.labels import holds_identifier
from memberkit.vocabulary import LENDING_FIGURES, NUMBERED_COLUMNS
from sharing.api.serializers.common import IdentifierSerializer
from sharing.choices import CONSENT_MAX, CORRELATION_MAX, IDENTIFIERS_MAX, AmountBand, Category, IdType, QueryPurpose
from sharing.flags.identifiers import member_identifiers
from sharing.matching import queries as matching
from sharing.messages import FieldError, message


def check_consent(attrs: dict[str, Any], *, portfolio: bool = False) -> None:
    """Refuse a purpose that needs consent without its reference (``matching.consent_missing``)."""
    if matching.consent_missing(attrs["purpose"], attrs.get("consent_reference")):
        said = message("consent_required", "portfolio" if portfolio else "")
        raise serializers.ValidationError({"consent_reference": serializers.ErrorDetail(said, code="consent_required")})


class QuerySubjectSerializer(serializers.Serializer[dict[str, Any]]):
    """One borrower, by one to five identifiers, at most one of each type, in either form of
    ``sharing.flags.identifiers`` (which alone checks them): ``id_type`` and ``token`` (and
    ``id_type_2``/``token_2`` ... ``id_type_5``/``token_5``), or ``identifiers``, a list."""

    correlation_id = serializers.CharField(
        max_length=CORRELATION_MAX, help_text="Your own id for the subject; echoed back.", validators=[validate_label]
    )
    id_type = serializers.ChoiceField(
        choices=IdType.choices, required=False, help_text="The first identifier's type, unless `identifiers` is sent."
    )
    token = serializers.CharField(
        required=False, help_text="The first identifier's member token: 64 lowercase hex. Never echoed back."
    )
    identifiers = IdentifierSerializer(
        many=True,
        required=False,
        help_text=f"Instead of the flat fields: 1 to {IDENTIFIERS_MAX} identifiers, at most one of each type.",
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        for n, (type_field, token_field) in enumerate(NUMBERED_COLUMNS, start=2):
            fields[type_field] = serializers.ChoiceField(
                choices=IdType.choices, required=False, help_text=f"The type of identifier {n}, if any."
            )
            fields[token_field] = serializers.CharField(
                required=False, help_text=f"The member token of identifier {n}."
            )
        return fields

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """The correlation id and the checked (id_type, member token) pairs; every refusal by its field."""
        if not isinstance(data, Mapping):
            unreachable: dict[str, Any] = super().to_internal_value(data)  # which refuses it, as any serializer does
            return unreachable
        errors: dict[str, Any] = {}
        correlation_id = ""
        try:
            correlation_id = self.fields["correlation_id"].run_validation(data.get("correlation_id", empty))
        except serializers.ValidationError as error:
            errors["correlation_id"] = error.detail
        pairs, refused = member_identifiers(data)
        for refusal in refused:
            errors.setdefault(refusal.field, []).append(
                serializers.ErrorDetail(said_in_language(refusal), refusal.code)
            )
        if errors:
            raise serializers.ValidationError(errors)
        return {"correlation_id": correlation_id, "identifiers": pairs}


# What an identifier's field is said as: token_2 and identifiers[1].token as token.
_SAID_AS = re.compile(r"(?:.*\.)?(\w+?)(?:_\d)?$")


def said_in_language(refusal: FieldError) -> str:
    """A refusal of ``sharing.flags.identifiers`` in the reader's language; in English if the catalogue
    words it with values this cannot know."""
    field = "identifier" if refusal.code == "unknown_field" else ""
    if not field and (said_as := _SAID_AS.fullmatch(refusal.field)):
        field = said_as.group(1)
    try:
        return message(refusal.code, field, most=IDENTIFIERS_MAX)
    except KeyError:
        return refusal.message


class QueryRequestSerializer(serializers.Serializer[dict[str, Any]]):
    purpose = serializers.ChoiceField(choices=QueryPurpose.choices)
    consent_reference = serializers.CharField(
        max_length=CONSENT_MAX,
        required=False,
        allow_blank=True,
        help_text="The borrower's written authorization; required for loan_application and credit_review.",
        validators=[validate_label],
    )
    subjects = QuerySubjectSerializer(many=True, min_length=1, max_length=settings.QUERY_SUBJECTS_MAX)  # type: ignore[call-arg]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_consent(attrs)
        return attrs


_PURPOSES = frozenset(QueryPurpose.values)


def plain_query(data: Any) -> dict[str, Any] | None:
    """The validated data of a plain, valid query without building ``QueryRequestSerializer``, or None.

    Every query passes through here, and building a nested serializer costs more than
    the lookup it guards. This accepts only requests the serializer accepts, and gives
    what it gives (a test holds the two together); anything else, every invalid request
    included, returns None and goes to the serializer, which stays the definition of a
    valid query and the only source of error messages.
    """
    if type(data) is not dict or type(purpose := data.get("purpose")) is not str or purpose not in _PURPOSES:
        return None
    plain: dict[str, Any] = {"purpose": purpose}
    if "consent_reference" in data:
        consent = data["consent_reference"]
        if (
            type(consent) is not str
            or len(consent) > CONSENT_MAX
            or not consent.isprintable()
            or holds_identifier(consent)
        ):
            return None
        plain["consent_reference"] = consent.strip()
    if matching.consent_missing(purpose, plain.get("consent_reference")):
        return None
    subjects = data.get("subjects")
    if type(subjects) is not list or not 1 <= len(subjects) <= settings.QUERY_SUBJECTS_MAX:
        return None
    plain["subjects"] = checked = []
    for subject in subjects:
        if type(subject) is not dict:
            return None
        correlation_id = subject.get("correlation_id")
        if (
            type(correlation_id) is not str
            or not 0 < len(correlation_id) <= CORRELATION_MAX
            or not correlation_id.isprintable()
            or correlation_id != correlation_id.strip()
            or holds_identifier(correlation_id)
        ):
            return None
        pairs, refused = member_identifiers(subject)
        if refused:
            return None
        checked.append({"correlation_id": correlation_id, "identifiers": pairs})
    return plain


class CategoryHitSerializer(serializers.Serializer[dict[str, Any]]):
    category = serializers.ChoiceField(choices=Category.choices)
    institutions = serializers.IntegerField(help_text="How many distinct other members flagged it.")
    latest_event_month = serializers.CharField(help_text="YYYY-MM of the most recent event.")
    disputed = serializers.BooleanField(help_text="Whether a flag of it is disputed.")
    resolved = serializers.BooleanField(help_text="Whether every flag of it is resolved (the event ended).")


class OwnHitSerializer(serializers.Serializer[dict[str, Any]]):
    category = serializers.ChoiceField(choices=Category.choices)
    flags = serializers.IntegerField(help_text="How many of your own flags.")
    latest_event_month = serializers.CharField(help_text="YYYY-MM of the most recent event.")
    disputed = serializers.BooleanField(help_text="Whether one of them is disputed.")
    resolved = serializers.BooleanField(help_text="Whether every one of them is resolved.")


# The multi-lender figures' descriptions, for the schema (docs/matching.md has them in full).
FIGURE_HELP = {
    "institutions_queried_7d": "Distinct other institutions that queried the borrower for lending in the last 7 days.",
    "institutions_queried_30d": "The same, in the last 30 days.",
    "institutions_queried_90d": "The same, in the last 90 days.",
    "institutions_with_open_loans": "Distinct other institutions with a loan open to the borrower.",
    "loans_opened_90d": "Other institutions' loans to the borrower opened in the last 90 days.",
    "loans_opened_180d": "Other institutions' loans to the borrower opened in the last 180 days.",
    "open_amount_band": "The total of other institutions' open loans' amount bands, as a band; empty if none.",
    "own_queries_90d": "Days in the last 90 on which you queried the borrower for lending.",
    "own_open_loans": "Your own open loans to the borrower.",
    "own_loans_opened_180d": "Your own loans to the borrower opened in the last 180 days.",
}
assert tuple(FIGURE_HELP) == LENDING_FIGURES


class LendingSerializer(serializers.Serializer[dict[str, Any]]):
    """A subject's multi-lender figures: other institutions' counted, never named; the caller's own apart."""

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields: dict[str, serializers.Field[Any, Any, Any, Any]] = {}
        for figure, said in FIGURE_HELP.items():
            if figure == "open_amount_band":
                fields[figure] = serializers.ChoiceField(choices=AmountBand.choices, allow_blank=True, help_text=said)
            else:
                fields[figure] = serializers.IntegerField(min_value=0, help_text=said)
        return fields


class NoteSerializer(serializers.Serializer[dict[str, Any]]):
    code = serializers.CharField(help_text="`no_loan_contributions`.")
    message = serializers.CharField(help_text="What the code means, in the reader's language.")


class SubjectAnswerSerializer(serializers.Serializer[dict[str, Any]]):
    correlation_id = serializers.CharField(help_text="Your id for the subject, as you sent it.")
    hit = serializers.BooleanField(help_text="Whether another member has flagged the subject (in what you may see).")
    categories = CategoryHitSerializer(many=True, help_text="Other members' flags, by category; never which members.")
    own = OwnHitSerializer(many=True, help_text="Your own flags of the subject, apart.")
    lending = LendingSerializer(
        allow_null=True,
        help_text="The multi-lender figures; null when your institution reports no loans (lending_note).",
    )


class QueryAnswerSerializer(serializers.Serializer[dict[str, Any]]):
    purpose = serializers.ChoiceField(choices=QueryPurpose.choices)
    subjects = SubjectAnswerSerializer(many=True, help_text="One answer per subject, in the order they were sent.")
    hits = serializers.IntegerField(help_text="How many subjects are hits.")
    lending_note = NoteSerializer(
        allow_null=True, help_text="Why no subject has multi-lender figures; null when they have them."
    )
