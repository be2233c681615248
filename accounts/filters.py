"""Filters for list endpoints."""

import django_filters
from django.utils.translation import gettext_lazy as _

from accounts.choices import ActorType, AuditAction, AuditOutcome
from accounts.models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):  # type: ignore[misc]
    # Every filter names its label: a label django-filter derives is made once, in the language of
    # the request that first builds the form, and would stay in that language for everyone.
    action = django_filters.MultipleChoiceFilter(choices=AuditAction.choices, label=_("Action"))
    outcome = django_filters.ChoiceFilter(choices=AuditOutcome.choices, label=_("Outcome"))
    actor_type = django_filters.ChoiceFilter(choices=ActorType.choices, label=_("Actor type"))
    actor = django_filters.CharFilter(
        field_name="actor_name", label=_("Actor"), help_text=_("A user name or an API key's prefix.")
    )
    since = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte", label=_("Since"))
    until = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt", label=_("Until"))
    institution = django_filters.NumberFilter(field_name="institution_id", label=_("Institution"))

    class Meta:
        model = AuditEvent
        fields = ["action", "outcome", "actor_type", "actor", "since", "until", "institution"]
