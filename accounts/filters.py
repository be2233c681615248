"""Filters for list endpoints."""

import django_filters

from accounts.choices import ActorType, AuditAction, AuditOutcome
from accounts.models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):  # type: ignore[misc]
    action = django_filters.MultipleChoiceFilter(choices=AuditAction.choices)
    outcome = django_filters.ChoiceFilter(choices=AuditOutcome.choices)
    actor_type = django_filters.ChoiceFilter(choices=ActorType.choices)
    actor = django_filters.CharFilter(field_name="actor_name", help_text="A user name or an API key's prefix.")
    since = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    institution = django_filters.NumberFilter(field_name="institution_id")

    class Meta:
        model = AuditEvent
        fields = ["action", "outcome", "actor_type", "actor", "since", "until", "institution"]
