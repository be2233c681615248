import django_filters

from sharing.choices import Category, FlagStatus, IdType, UploadStatus
from sharing.models import Flag, Upload


class FlagFilter(django_filters.FilterSet):  # type: ignore[misc]
    category = django_filters.MultipleChoiceFilter(choices=Category.choices)
    status = django_filters.MultipleChoiceFilter(choices=FlagStatus.choices)
    id_type = django_filters.ChoiceFilter(choices=IdType.choices)
    reference = django_filters.CharFilter()
    event_after = django_filters.DateFilter(field_name="event_date", lookup_expr="gte")
    event_before = django_filters.DateFilter(field_name="event_date", lookup_expr="lte")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    disputed = django_filters.BooleanFilter()
    upload = django_filters.NumberFilter(field_name="source_upload_id")

    class Meta:
        model = Flag
        fields: list[str] = []


class UploadFilter(django_filters.FilterSet):  # type: ignore[misc]
    status = django_filters.MultipleChoiceFilter(choices=UploadStatus.choices)

    class Meta:
        model = Upload
        fields: list[str] = []
