import django_filters
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.filters import FilterSet, IdFilter, InstantFilter
from sharing.choices import Category, FlagStatus, IdType, JobStatus
from sharing.models import Flag, FlagToken, Upload


class FlagFilter(FilterSet):
    # Every filter names its label (see accounts.filters).
    category = django_filters.MultipleChoiceFilter(choices=Category.choices, label=_("Category"))
    status = django_filters.MultipleChoiceFilter(choices=FlagStatus.choices, label=_("Status"))
    # Flags with an identifier of this type, whichever of their identifiers it is.
    id_type = django_filters.ChoiceFilter(choices=IdType.choices, label=_("Identifier type"), method="with_id_type")
    reference = django_filters.CharFilter(label=_("Reference"))
    event_after = django_filters.DateFilter(field_name="event_date", lookup_expr="gte", label=_("Event on or after"))
    event_before = django_filters.DateFilter(field_name="event_date", lookup_expr="lte", label=_("Event on or before"))
    updated_since = InstantFilter(field_name="updated_at", lookup_expr="gte", label=_("Updated since"))
    disputed = django_filters.BooleanFilter(label=_("Disputed"))
    upload = IdFilter(field_name="source_upload_id", label=_("Source upload"))

    class Meta:
        model = Flag
        fields: list[str] = []

    def with_id_type(self, queryset: QuerySet[Flag], name: str, value: str) -> QuerySet[Flag]:
        if not value:
            return queryset
        return queryset.filter(Exists(FlagToken.objects.filter(flag=OuterRef("pk"), id_type=value)))


class UploadFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=JobStatus.choices, label=_("Status"))

    class Meta:
        model = Upload
        fields: list[str] = []
