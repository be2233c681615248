"""What a member's list of its own loans may be narrowed to (``GET /api/v1/loans``)."""

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.filters import FilterSet, IdFilter, InstantFilter
from sharing.choices import ProductType
from sharing.models import Loan


class LoanFilter(FilterSet):
    # Every filter names its label (see accounts.filters).
    open = django_filters.BooleanFilter(method="filter_open", label=_("Open"))
    product = django_filters.MultipleChoiceFilter(choices=ProductType.choices, label=_("Product type"))
    reference = django_filters.CharFilter(label=_("Reference"))
    opened_after = django_filters.DateFilter(field_name="opened_on", lookup_expr="gte", label=_("Opened on or after"))
    opened_before = django_filters.DateFilter(field_name="opened_on", lookup_expr="lte", label=_("Opened on or before"))
    updated_since = InstantFilter(field_name="updated_at", lookup_expr="gte", label=_("Updated since"))
    upload = IdFilter(field_name="source_upload_id", label=_("Source upload"))

    class Meta:
        model = Loan
        fields: list[str] = []

    def filter_open(self, queryset: QuerySet[Loan], name: str, value: bool | None) -> QuerySet[Loan]:
        """Open loans (no closing date) with ``open=true``, closed ones with ``open=false``."""
        if value is None:
            return queryset
        return queryset.filter(closed_on__isnull=value)
