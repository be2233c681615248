"""The fixed vocabularies of membership: institution kinds, roles and API key scopes."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class InstitutionKind(models.TextChoices):
    MEMBER = "member", _("Member institution")
    REGULATOR = "regulator", _("Regulator")
    OPERATOR = "operator", _("Platform operator")


class Sector(models.TextChoices):
    """What kind of lender a member is; reports group members by it."""

    BANK = "bank", _("Bank")
    CONSUMER_FINANCE = "consumer_finance", _("Consumer finance company")
    MICROLENDER = "microlender", _("Micro-lender")


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
    LOANS_WRITE = "loans:write", _("Report loans")
    MATCH = "match", _("Query borrowers")
    INSPECTIONS = "inspections", _("Run portfolio inspections")
    REPORTS_READ = "reports:read", _("Read reports")
    REPORTS_REQUEST = "reports:request", _("Request reports")
    AUDIT_READ = "audit:read", _("Read the audit trail")


# Which roles a person may hold, and which scopes a key may carry, by institution kind.
ROLES_BY_KIND: dict[str, frozenset[str]] = {
    InstitutionKind.MEMBER: frozenset({Role.INSTITUTION_ADMIN, Role.CONTRIBUTOR, Role.ANALYST, Role.AUDITOR}),
    InstitutionKind.REGULATOR: frozenset({Role.INSTITUTION_ADMIN, Role.REGULATOR_STAFF, Role.AUDITOR}),
    InstitutionKind.OPERATOR: frozenset({Role.INSTITUTION_ADMIN, Role.OPERATOR, Role.AUDITOR}),
}
SCOPES_BY_KIND: dict[str, frozenset[str]] = {
    InstitutionKind.MEMBER: frozenset(Scope.values) - {Scope.REPORTS_REQUEST},
    InstitutionKind.REGULATOR: frozenset({Scope.REPORTS_READ, Scope.REPORTS_REQUEST, Scope.AUDIT_READ}),
    InstitutionKind.OPERATOR: frozenset({Scope.AUDIT_READ}),
}


class AuditAction(models.TextChoices):
    """Stable codes of what the audit trail records. Never rename one: history refers to it."""

    LOGIN = "auth.login", _("Signed in")
    LOGIN_FAILED = "auth.login_failed", _("Failed sign-in")
    LOGOUT = "auth.logout", _("Signed out")
    PASSWORD_CHANGE = "auth.password_change", _("Changed own password")
    ME_VIEW = "me.view", _("Looked up own identity")
    INSTITUTION_LIST = "institution.list", _("Listed institutions")
    INSTITUTION_VIEW = "institution.view", _("Viewed an institution")
    INSTITUTION_CREATE = "institution.create", _("Registered an institution")
    INSTITUTION_UPDATE = "institution.update", _("Changed an institution")
    USER_LIST = "user.list", _("Listed people")
    USER_VIEW = "user.view", _("Viewed a person")
    USER_CREATE = "user.create", _("Created a person")
    USER_UPDATE = "user.update", _("Changed a person")
    APIKEY_LIST = "apikey.list", _("Listed API keys")
    APIKEY_VIEW = "apikey.view", _("Viewed an API key")
    APIKEY_ISSUE = "apikey.issue", _("Issued an API key")
    APIKEY_UPDATE = "apikey.update", _("Changed an API key")
    APIKEY_REVOKE = "apikey.revoke", _("Revoked an API key")
    AUDIT_LIST = "audit.list", _("Read the audit trail")
    AUDIT_PROOF = "audit.proof", _("Exported an inclusion proof")
    FLAG_CONTRIBUTE = "flag.contribute", _("Contributed flags")
    FLAG_LIST = "flag.list", _("Listed own flags")
    FLAG_VIEW = "flag.view", _("Viewed a flag")
    FLAG_SUMMARY = "flag.summary", _("Counted own flags")
    FLAG_RESOLVE = "flag.resolve", _("Resolved a flag")
    FLAG_WITHDRAW = "flag.withdraw", _("Withdrew a flag")
    FLAG_EXPIRE = "flag.expire", _("Expired flags past retention")
    FLAG_SHRED = "flag.shred", _("Destroyed flag details")
    FLAG_ERASE = "flag.erase", _("Erased expired flags' tokens and references")
    LOAN_CONTRIBUTE = "loan.contribute", _("Reported loans")
    LOAN_LIST = "loan.list", _("Listed own loans")
    LOAN_VIEW = "loan.view", _("Viewed a loan")
    LOAN_ERASE = "loan.erase", _("Erased loans past retention")
    UPLOAD_CREATE = "upload.create", _("Uploaded a file of flags")
    UPLOAD_LIST = "upload.list", _("Listed uploads")
    UPLOAD_VIEW = "upload.view", _("Viewed an upload")
    UPLOAD_ERRORS = "upload.errors", _("Downloaded an upload's error report")
    UPLOAD_PROCESS = "upload.process", _("Processed an upload")
    QUERY = "match.query", _("Queried borrowers")
    QUERY_RECORD_DELETE = "query_record.delete", _("Deleted query records past retention")
    INSPECTION_CREATE = "inspection.create", _("Started a portfolio inspection")
    INSPECTION_LIST = "inspection.list", _("Listed inspections")
    INSPECTION_VIEW = "inspection.view", _("Viewed an inspection")
    INSPECTION_RESULTS = "inspection.results", _("Downloaded an inspection's results")
    INSPECTION_RUN = "inspection.run", _("Ran a portfolio inspection")
    INSPECTION_ERRORS = "inspection.errors", _("Downloaded an inspection's error report")
    REPORT_REQUEST = "report.request", _("Requested a report")
    REPORT_LIST = "report.list", _("Listed reports")
    REPORT_VIEW = "report.view", _("Viewed a report")
    REPORT_DOWNLOAD = "report.download", _("Downloaded a report file")
    REPORT_BUILD = "report.build", _("Built a report")
    DATA_KEY_REWRAP = "datakey.rewrap", _("Re-wrapped data keys under a new master key")
    TOKEN_REKEY = "token.rekey", _("Re-keyed platform tokens to a new pepper")


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", _("Succeeded")
    DENIED = "denied", _("Denied")
    FAILED = "failed", _("Failed")


class ActorType(models.TextChoices):
    PERSON = "person", _("Person")
    API_KEY = "api_key", _("API key")
    SYSTEM = "system", _("The platform")
    ANONYMOUS = "anonymous", _("Not signed in")
