"""Shared risk information: flags, loans, query records, the keys that seal details, jobs, and reports.

One module per domain; every model is named here, so ``sharing.models.Flag`` is where it always was.
"""

from sharing.models.flags import ContributedCategory, Flag, FlagToken, IdempotentRequest, Upload, UploadError
from sharing.models.identifiers import BorrowerToken
from sharing.models.jobs import FINISHED, FileJob, RowError, WorkerHeartbeat, percent, uploads_storage
from sharing.models.keys import DataKey
from sharing.models.loans import ContributedLoans, Loan, LoanToken
from sharing.models.matching import (
    Inspection,
    InspectionError,
    InspectionHit,
    InspectionLending,
    InspectionPart,
    QueryRecord,
    UsageCounter,
)
from sharing.models.reports import Report, ReportFile

__all__ = [
    "FINISHED",
    "BorrowerToken",
    "ContributedCategory",
    "ContributedLoans",
    "DataKey",
    "FileJob",
    "Flag",
    "FlagToken",
    "IdempotentRequest",
    "Inspection",
    "InspectionError",
    "InspectionHit",
    "InspectionLending",
    "InspectionPart",
    "Loan",
    "LoanToken",
    "QueryRecord",
    "Report",
    "ReportFile",
    "RowError",
    "Upload",
    "UploadError",
    "UsageCounter",
    "WorkerHeartbeat",
    "percent",
    "uploads_storage",
]
