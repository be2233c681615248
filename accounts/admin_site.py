"""The admin site itself, apart from ``admin.py`` so that the admin can import it early."""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.permissions import can_use_admin


class OperatorAdminSite(admin.AdminSite):
    site_header = _("Riskshare operations")
    site_title = _("Riskshare operations")

    def has_permission(self, request: HttpRequest) -> bool:
        return can_use_admin(request.user)
