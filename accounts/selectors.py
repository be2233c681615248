"""Read queries, each already narrowed to what the caller may see."""

from typing import Any

from django.db.models import QuerySet

from accounts.models import AuditEvent, Institution
from accounts.permissions import is_operator, is_regulator


def institutions_visible_to(caller: Any) -> QuerySet[Institution]:
    """Operators and regulators see every institution; everyone else only their own."""
    institutions = Institution.objects.order_by("code")
    if is_operator(caller) or is_regulator(caller):
        return institutions
    return institutions.filter(pk=caller.institution.pk)


def audit_events_visible_to(caller: Any) -> QuerySet[AuditEvent]:
    """Regulator staff read the whole trail; everyone else their own institution's events."""
    events = AuditEvent.objects.select_related("seal").order_by("-id")
    if is_regulator(caller):
        return events
    return events.filter(institution=caller.institution)
