"""The accounts app's models: membership (institutions, people, keys) and the audit trail."""

from accounts.models.audit import AuditCheckpoint, AuditEvent, AuditSeal, AuditVerification
from accounts.models.membership import ApiKey, Institution, User

__all__ = [
    "ApiKey",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditSeal",
    "AuditVerification",
    "Institution",
    "User",
]
