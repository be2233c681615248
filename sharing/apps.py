from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SharingConfig(AppConfig):
    """Identifiers, flags, matching, jobs and reports: the data the consortium shares."""

    name = "sharing"
    verbose_name = _("Risk sharing")
