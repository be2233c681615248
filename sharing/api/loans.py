"""Loans over the API: a member reports them in batches and reads back its own, and nobody else's."""

import hashlib
import json
from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.auditing import AuditedMixin
from accounts.api.scoping import InstitutionScopedMixin
from accounts.authentication import caller_institution
from accounts.choices import AuditAction
from accounts.permissions import LOAN_READERS, LOAN_WRITERS, ActionAllowed
from config.pagination import NewestFirstCursorPagination
from sharing.api.base import IDEMPOTENCY_HEADER
from sharing.api.serializers.loans import LoanBatchResultSerializer, LoanBatchSerializer, LoanSerializer
from sharing.flags import idempotency
from sharing.flags.services import BatchInvalid
from sharing.loans import services
from sharing.loans.filters import LoanFilter
from sharing.messages import FieldError
from sharing.models import Loan, LoanToken


class LoanViewSet(
    AuditedMixin,
    InstitutionScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Loan],
):
    """A member's own loans: report them in batches, list and read them.

    Other institutions' loans do not exist here: they answer 404. Other members see a loan only
    counted, in the multi-lender figures of an answer.
    """

    # The identifiers' types, in the order sent; their tokens are never loaded.
    queryset = Loan.objects.order_by("-id").prefetch_related(
        Prefetch("tokens", queryset=LoanToken.objects.order_by("id").only("id", "loan_id", "id_type"))
    )
    serializer_class = LoanSerializer
    permission_classes = [ActionAllowed]
    allow = {"list": LOAN_READERS, "retrieve": LOAN_READERS, "create": LOAN_WRITERS}
    audit_actions = {
        "list": AuditAction.LOAN_LIST,
        "retrieve": AuditAction.LOAN_VIEW,
        "create": AuditAction.LOAN_CONTRIBUTE,
    }
    http_method_names = ["get", "post", "head", "options"]
    pagination_class = NewestFirstCursorPagination
    filterset_class = LoanFilter

    @extend_schema(request=LoanBatchSerializer, responses=LoanBatchResultSerializer, parameters=[IDEMPOTENCY_HEADER])
    def create(self, request: Request) -> Response:
        """Report up to 1,000 loans, all or nothing; a known reference updates its loan and replaces its identifiers."""
        batch = LoanBatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        items = batch.validated_data["loans"]
        return idempotency.once(
            request,
            "loans",
            lambda: hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest(),
            lambda: self._contribute(request, items),
        )

    def _contribute(self, request: Request, items: list[dict[str, Any]]) -> Response:
        institution = caller_institution(request)
        try:
            loans, stored = services.contribute(institution, items)
        except BatchInvalid as invalid:
            by_index: dict[Any, Any] = {index: _by_field(errors) for index, errors in invalid.errors.items()}
            raise exceptions.ValidationError({"loans": by_index}) from None
        ids = self._ids(institution.pk, [loan.reference for loan in loans])
        self.audit_subjects = len(loans)
        return Response(
            {
                "created": stored.created,
                "updated": stored.updated,
                "loans": [
                    {"reference": loan.reference, "id": ids[loan.reference], "open": loan.closed_on is None}
                    for loan in loans
                ],
            }
        )

    @staticmethod
    def _ids(institution_id: int, references: list[str]) -> dict[str, int]:
        written: QuerySet[Loan] = Loan.objects.filter(institution_id=institution_id, reference__in=references)
        return {str(reference): pk for reference, pk in written.values_list("reference", "pk")}


def _by_field(errors: list[FieldError]) -> dict[str, list[exceptions.ErrorDetail]]:
    """An item's refusals by field, each field with all of its own (closed before it opened, and too long ago)."""
    fields: dict[str, list[exceptions.ErrorDetail]] = {}
    for error in errors:
        fields.setdefault(error.field, []).append(exceptions.ErrorDetail(error.message, error.code))
    return fields
