"""The fixed vocabularies of membership: institution kinds, roles and API key scopes."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class InstitutionKind(models.TextChoices):
    MEMBER = "member", _("Member institution")
    REGULATOR = "regulator", _("Regulator")
    OPERATOR = "operator", _("Platform operator")


class InstitutionStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")


class Role(models.TextChoices):
    INSTITUTION_ADMIN = "institution_admin", _("Institution admin")
    CONTRIBUTOR = "contributor", _("Contributor")
    ANALYST = "analyst", _("Analyst")
    AUDITOR = "auditor", _("Auditor")
    REGULATOR_STAFF = "regulator_staff", _("Regulator staff")
    # The same words name the operator's institution kind; the context lets translators tell them apart.
    OPERATOR = "operator", pgettext_lazy("role", "Platform operator")


class Scope(models.TextChoices):
    FLAGS_WRITE = "flags:write", _("Contribute flags")
    MATCH = "match", _("Query borrowers")
    INSPECTIONS = "inspections", _("Run portfolio inspections")
    REPORTS_READ = "reports:read", _("Read reports")
    AUDIT_READ = "audit:read", _("Read the audit trail")


# Which roles a person may hold, and which scopes a key may carry, by institution kind.
ROLES_BY_KIND: dict[str, frozenset[str]] = {
    InstitutionKind.MEMBER: frozenset({Role.INSTITUTION_ADMIN, Role.CONTRIBUTOR, Role.ANALYST, Role.AUDITOR}),
    InstitutionKind.REGULATOR: frozenset({Role.INSTITUTION_ADMIN, Role.REGULATOR_STAFF, Role.AUDITOR}),
    InstitutionKind.OPERATOR: frozenset({Role.INSTITUTION_ADMIN, Role.OPERATOR, Role.AUDITOR}),
}
SCOPES_BY_KIND: dict[str, frozenset[str]] = {
    InstitutionKind.MEMBER: frozenset(Scope.values),
    InstitutionKind.REGULATOR: frozenset({Scope.REPORTS_READ, Scope.AUDIT_READ}),
    InstitutionKind.OPERATOR: frozenset({Scope.AUDIT_READ}),
}
