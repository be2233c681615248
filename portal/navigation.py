"""The portal's sections, and which of them a person's roles open.

The navigation bar of every page (``portal/templatetags/navigation.py``) shows the sections that
``sections_for`` returns; each page checks the same rule when it is asked for
(``person_holding(request, RULE)``), so a link is shown exactly where the page would open.
"""

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_stubs_ext import StrOrPromise

from accounts.permissions import (
    AUDIT_READERS,
    FLAG_READERS,
    INSPECTORS,
    MATCHERS,
    MEMBER_ACTIVITY_READERS,
    PEOPLE_MANAGERS,
    WHOLE_REPORT_READERS,
    Allow,
    admits,
)


@dataclass(frozen=True)
class Section:
    url_name: str  # in the ``portal`` namespace
    label: StrOrPromise
    rule: Allow


SECTIONS = (
    Section("flags", _("Our flags"), FLAG_READERS),
    Section("uploads", _("Uploads"), FLAG_READERS),
    Section("query", _("Look up a borrower"), MATCHERS),
    Section("inspections", pgettext_lazy("portal page", "Inspections"), INSPECTORS),
    Section("report_list", _("Reports"), WHOLE_REPORT_READERS),
    Section("institutions", _("Member activity"), MEMBER_ACTIVITY_READERS),
    Section("audit_events", _("Audit trail"), AUDIT_READERS),
    Section("people", _("People"), PEOPLE_MANAGERS),
    Section("api_keys", _("API keys"), PEOPLE_MANAGERS),
)


def sections_for(person: Any) -> list[Section]:
    """The sections ``person``'s roles open, in the bar's order (none for someone not signed in)."""
    return [section for section in SECTIONS if admits(person, section.rule)]
