"""The one place where API querysets are narrowed to the caller's institution."""

from typing import Any

from django.db.models import Model, QuerySet
from rest_framework.generics import GenericAPIView

from accounts.authentication import caller_institution


class InstitutionScopedMixin(GenericAPIView[Any]):
    """Objects of other institutions do not exist for the caller: they answer 404, never 403."""

    institution_field = "institution"

    def get_queryset(self) -> QuerySet[Any]:
        queryset: QuerySet[Model] = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):  # The schema generator has no caller.
            return queryset.none()
        return queryset.filter(**{self.institution_field: caller_institution(self.request)})
