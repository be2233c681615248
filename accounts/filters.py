"""Filters for list endpoints, and the one date-time filter that every list uses."""

from datetime import datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

from accounts.choices import ActorType, AuditAction, AuditOutcome
from accounts.models import AuditEvent
from config.parsers import storable_datetime


class InstantField(IsoDateTimeField):  # type: ignore[misc]
    """An ISO 8601 date-time that the database can take (``config.parsers.storable_datetime``), in UTC.

    A form error (a 400 ``validation_error`` in the API), never a database error: an offset
    such as ``+19:00`` parses in Python but PostgreSQL refuses it.
    """

    def to_python(self, value: Any) -> datetime | None:
        instant: datetime | None = super().to_python(value)
        return None if instant is None else storable_datetime(instant)


class InstantFilter(django_filters.IsoDateTimeFilter):  # type: ignore[misc]
    field_class = InstantField


class IdField(forms.IntegerField):
    """A row id: a whole number that a bigint column can hold (a larger one fails in SQLite's driver)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(**kwargs)


class IdFilter(django_filters.NumberFilter):  # type: ignore[misc]
    field_class = IdField


class FilterSet(django_filters.FilterSet):  # type: ignore[misc]
    """A filter set whose invalid values match nothing.

    django-filter skips a filter whose value is invalid, so a portal page would list every row
    under a filter that it says it applied; the API never gets here (it answers 400 first).
    """

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.form.is_valid():
            return queryset.none()
        filtered: QuerySet[Any] = super().filter_queryset(queryset)
        return filtered


class AuditEventFilter(FilterSet):
    # Every filter names its label: a label django-filter derives is made once, in the language of
    # the request that first builds the form, and would stay in that language for everyone.
    action = django_filters.MultipleChoiceFilter(choices=AuditAction.choices, label=_("Action"))
    outcome = django_filters.ChoiceFilter(choices=AuditOutcome.choices, label=_("Outcome"))
    actor_type = django_filters.ChoiceFilter(choices=ActorType.choices, label=_("Actor type"))
    actor = django_filters.CharFilter(
        field_name="actor_name", label=_("Actor"), help_text=_("A user name or an API key's prefix.")
    )
    since = InstantFilter(field_name="occurred_at", lookup_expr="gte", label=_("Since"))
    until = InstantFilter(field_name="occurred_at", lookup_expr="lt", label=_("Until"))
    institution = IdFilter(field_name="institution_id", label=_("Institution"))

    class Meta:
        model = AuditEvent
        fields = ["action", "outcome", "actor_type", "actor", "since", "until", "institution"]
