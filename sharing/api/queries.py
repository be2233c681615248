"""Real-time queries: have other members flagged these borrowers, and how many lenders look at or lend to them?"""

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.auditing import AuditedMixin
from accounts.authentication import caller_institution
from accounts.choices import AuditAction
from accounts.permissions import MATCHERS, ActionAllowed
from sharing.api.serializers.queries import QueryAnswerSerializer, QueryRequestSerializer, plain_query
from sharing.flags.identifiers import keyed
from sharing.keys.tokens import Keyer, peppers
from sharing.matching import queries as matching
from sharing.matching import quotas
from sharing.messages import message


class NotReciprocalError(exceptions.PermissionDenied):
    default_code = "not_reciprocal"

    @classmethod
    def to(cls, verb: str) -> "NotReciprocalError":
        return cls(message("not_reciprocal", verb, days=settings.MATCH_RECIPROCITY_DAYS))


class QueryView(AuditedMixin, APIView):
    """Real-time query: have other members flagged these borrowers? Up to 100 subjects, each of 1 to 5 identifiers.

    The answer says, per subject and category, how many other members flagged it, never which, and
    the subject's multi-lender figures (other institutions counted, never named; the caller's own apart).
    """

    permission_classes = [ActionAllowed]
    allow = {"post": MATCHERS}
    audit_actions = {"post": AuditAction.QUERY}
    reads_only = True  # it changes nothing but the usage counters, its query records and its own event

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        # No transaction around the request: its two writes are each one statement, the counters and
        # query records (with the lookup, written only if within the limits) and then the event, which must be
        # written before the answer leaves. Two round trips fewer (BEGIN, COMMIT); see architecture.md.
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    @extend_schema(
        request=QueryRequestSerializer,
        responses={
            200: QueryAnswerSerializer,
            429: OpenApiResponse(description="`rate_exceeded` or `quota_exceeded`; see Retry-After."),
        },
    )
    def post(self, request: Request) -> Response:
        data = plain_query(request.data)
        if data is None:
            form = QueryRequestSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            data = form.validated_data
        institution = caller_institution(request)
        chain = peppers()
        keyer = Keyer(chain)  # the serializer has checked every token
        subjects = [
            (subject["correlation_id"], [token for _, token in keyed(subject["identifiers"], keyer)])
            for subject in data["subjects"]
        ]
        now = timezone.now()
        try:
            answered = matching.query(
                institution,
                subjects,
                now,
                quotas.Charge.of(institution, len(subjects), now),
                purpose=data["purpose"],
                pepper_version=chain.version,
            )
        except matching.NotReciprocal:
            raise NotReciprocalError.to("query") from None
        consent = data.get("consent_reference", "").strip()
        self.audit_subjects = len(subjects)
        self.audit_details = {"purpose": data["purpose"], "consent_reference": consent, "hits": answered.hits}
        return Response(
            {
                "purpose": data["purpose"],
                "subjects": answered.subjects,
                "hits": answered.hits,
                "lending_note": answered.lending_note,
            }
        )
