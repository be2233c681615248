"""Real-time queries: the question (purpose, consent, up to 100 subjects) and the answer."""

from typing import Any

from django.conf import settings
from rest_framework import serializers

from accounts.validators import validate_label
from memberkit.labels import holds_identifier
from sharing.choices import CONSENT_MAX, CORRELATION_MAX, Category, IdType, QueryPurpose
from sharing.keys.tokens import MEMBER_TOKEN
from sharing.matching import queries as matching
from sharing.messages import message


def check_consent(attrs: dict[str, Any], *, portfolio: bool = False) -> None:
    """Refuse a purpose that needs consent without its reference (``matching.consent_missing``)."""
    if matching.consent_missing(attrs["purpose"], attrs.get("consent_reference")):
        said = message("consent_required", "portfolio" if portfolio else "")
        raise serializers.ValidationError({"consent_reference": serializers.ErrorDetail(said, code="consent_required")})


class QuerySubjectSerializer(serializers.Serializer[dict[str, Any]]):
    correlation_id = serializers.CharField(
        max_length=CORRELATION_MAX, help_text="Your own id for the subject; echoed back.", validators=[validate_label]
    )
    id_type = serializers.ChoiceField(choices=IdType.choices)
    token = serializers.CharField(help_text="The member token: 64 lowercase hex. Never echoed back.")

    def validate_token(self, value: str) -> str:
        if not MEMBER_TOKEN.fullmatch(value):
            # Never echo the value: it is a borrower's token, or a raw identifier sent by mistake.
            raise serializers.ValidationError(message("bad_token"), code="bad_token")
        return value


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
_ID_TYPES = frozenset(IdType.values)


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
        correlation_id, id_type, token = subject.get("correlation_id"), subject.get("id_type"), subject.get("token")
        if (
            type(correlation_id) is not str
            or not 0 < len(correlation_id) <= CORRELATION_MAX
            or not correlation_id.isprintable()
            or correlation_id != correlation_id.strip()
            or holds_identifier(correlation_id)
            or type(id_type) is not str
            or id_type not in _ID_TYPES
            or type(token) is not str
            or not MEMBER_TOKEN.fullmatch(token)
        ):
            return None
        checked.append({"correlation_id": correlation_id, "id_type": id_type, "token": token})
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


class SubjectAnswerSerializer(serializers.Serializer[dict[str, Any]]):
    correlation_id = serializers.CharField(help_text="Your id for the subject, as you sent it.")
    hit = serializers.BooleanField(help_text="Whether another member has flagged the subject (in what you may see).")
    categories = CategoryHitSerializer(many=True, help_text="Other members' flags, by category; never which members.")
    own = OwnHitSerializer(many=True, help_text="Your own flags of the subject, apart.")


class QueryAnswerSerializer(serializers.Serializer[dict[str, Any]]):
    purpose = serializers.ChoiceField(choices=QueryPurpose.choices)
    subjects = SubjectAnswerSerializer(many=True, help_text="One answer per subject, in the order they were sent.")
    hits = serializers.IntegerField(help_text="How many subjects are hits.")
