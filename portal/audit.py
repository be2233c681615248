"""The audit trail in the portal (auditors their institution's, regulator staff the whole of it)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import selectors
from accounts.authentication import person_holding
from accounts.choices import AuditAction
from accounts.filters import AuditEventFilter
from accounts.permissions import AUDIT_READERS
from config.pagination import newest_first_page
from portal.auditing import audited

AUDIT_PAGE_SIZE = 50


@login_required
@audited(AuditAction.AUDIT_LIST)
def audit_events(request: HttpRequest) -> HttpResponse:
    """The audit trail in the portal: the API's list, filters and visibility, newest first."""
    person = person_holding(request, AUDIT_READERS)
    events = AuditEventFilter(request.GET, queryset=selectors.audit_events_visible_to(person))
    page = newest_first_page(request, events.qs.select_related("institution"), AUDIT_PAGE_SIZE)
    return render(
        request,
        "portal/audit_events.html",
        {"form": events.form, "events": page.rows, "older": page.older, "query": page.query},
    )
