from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    default = True
    name = "accounts"
    verbose_name = _("Institutions and people")

    def ready(self) -> None:
        from accounts import schema, signals  # noqa: F401  (register the OpenAPI extension and receivers)


class OperatorAdminConfig(admin_apps.AdminConfig):
    """The Django admin, open to platform operators only."""

    default = False
    default_site = "accounts.admin_site.OperatorAdminSite"
