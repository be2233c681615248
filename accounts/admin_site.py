"""The admin site itself, apart from ``admin.py`` so that the admin can import it early."""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditVerification
from accounts.permissions import can_use_admin


class OperatorAdminSite(admin.AdminSite):
    site_header = _("Riskshare operations")
    site_title = _("Riskshare operations")

    def has_permission(self, request: HttpRequest) -> bool:
        return can_use_admin(request.user)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        """Operators see at once when the last verification of the audit trail failed."""
        latest = AuditVerification.objects.order_by("-ran_at").first()
        if latest is not None and not latest.intact:
            messages.error(request, latest.summary)
        return super().index(request, extra_context)
