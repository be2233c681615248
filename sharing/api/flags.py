"""Flags over the API: a member contributes them in batches, reads, resolves and withdraws its own."""

import hashlib
import json
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.auditing import AuditedMixin
from accounts.api.scoping import InstitutionScopedMixin
from accounts.authentication import caller_institution
from accounts.choices import AuditAction
from accounts.permissions import FLAG_READERS, FLAG_WRITERS, ActionAllowed
from config.pagination import NewestFirstCursorPagination
from sharing.api.base import IDEMPOTENCY_HEADER
from sharing.api.serializers.flags import (
    BatchResultSerializer,
    FlagBatchSerializer,
    FlagChangeSerializer,
    FlagDetailSerializer,
    FlagSerializer,
    FlagSummarySerializer,
)
from sharing.choices import FlagStatus
from sharing.filters import FlagFilter
from sharing.flags import idempotency, selectors, services
from sharing.models import Flag


class FlagViewSet(
    AuditedMixin,
    InstitutionScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Flag],
):
    """A member's own flags: contribute in batches, read, resolve and withdraw.

    Other institutions' flags do not exist here: they answer 404.
    """

    queryset = Flag.objects.order_by("-id")
    permission_classes = [ActionAllowed]
    allow = {
        "list": FLAG_READERS,
        "retrieve": FLAG_READERS,
        "summary": FLAG_READERS,
        "create": FLAG_WRITERS,
        "partial_update": FLAG_WRITERS,
    }
    audit_actions = {
        "list": AuditAction.FLAG_LIST,
        "retrieve": AuditAction.FLAG_VIEW,
        "summary": AuditAction.FLAG_SUMMARY,
        "create": AuditAction.FLAG_CONTRIBUTE,
    }
    http_method_names = ["get", "post", "patch", "head", "options"]
    pagination_class = NewestFirstCursorPagination
    filterset_class = FlagFilter

    def get_queryset(self) -> QuerySet[Flag]:
        queryset: QuerySet[Flag] = super().get_queryset()
        if self.action == "summary":
            return queryset
        # The identifiers' types, in the order given; never their tokens.
        queryset = queryset.prefetch_related(selectors.IDENTIFIER_TYPES)
        if self.action != "list":
            return queryset.select_related("details_key")
        # A list never decrypts: it says whether details exist without loading the ciphertext.
        has_details = ExpressionWrapper(Q(details__isnull=False), output_field=BooleanField())
        return queryset.defer("details").annotate(has_details=has_details)

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return FlagDetailSerializer if self.action == "retrieve" else FlagSerializer

    @extend_schema(request=FlagBatchSerializer, responses=BatchResultSerializer, parameters=[IDEMPOTENCY_HEADER])
    def create(self, request: Request) -> Response:
        """Contribute up to 1,000 flags, all or nothing; a known reference updates its flag."""
        batch = FlagBatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        items = batch.validated_data["flags"]
        return idempotency.once(
            request,
            "flags",
            lambda: hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest(),
            lambda: self._contribute(request, items),
        )

    def _contribute(self, request: Request, items: list[dict[str, Any]]) -> Response:
        institution = caller_institution(request)
        try:
            flags, stored = services.contribute(institution, items)
        except services.BatchInvalid as invalid:
            by_index: dict[Any, Any] = {
                index: {error.field: [exceptions.ErrorDetail(error.message, error.code)] for error in errors}
                for index, errors in invalid.errors.items()
            }
            raise exceptions.ValidationError({"flags": by_index}) from None
        stored_flags = dict(
            Flag.objects.filter(institution=institution, reference__in=[flag.reference for flag in flags]).values_list(
                "reference", "pk"
            )
        )
        self.audit_subjects = len(flags)
        return Response(
            {
                "created": stored.created,
                "updated": stored.updated,
                "flags": [
                    {
                        "reference": flag.reference,
                        "id": stored_flags[flag.reference],
                        "status": FlagStatus.RESOLVED if flag.end_date else FlagStatus.ACTIVE,
                    }
                    for flag in flags
                ],
            }
        )

    @extend_schema(responses=FlagSummarySerializer)
    @action(detail=False, methods=["get"])
    def summary(self, request: Request) -> Response:
        """The caller's flags counted by category and status, with the list's filters (``?upload=`` for one
        upload's): a member reconciles its book with the platform without paging through every flag."""
        counts = selectors.flag_counts(self.filter_queryset(self.get_queryset()))
        self.audit_subjects = counts.total
        return Response(FlagSummarySerializer(counts).data)

    @extend_schema(request=FlagChangeSerializer, responses=FlagDetailSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Resolve (``status: resolved`` with ``end_date``) or withdraw (``status: withdrawn`` with ``reason``)."""
        change = FlagChangeSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        data = change.validated_data
        flag, self.audit_action = services.change(
            self.get_object(), data["status"], end_date=data.get("end_date"), reason=data.get("reason", "")
        )
        return Response(FlagDetailSerializer(flag, context=self.get_serializer_context()).data)
