"""Shared risk information: flags, the data keys that seal their details, jobs, and regulators' reports.

One module per domain; every model is named here, so ``sharing.models.Flag`` is where it always was.
"""

from sharing.models.flags import ContributedCategory, Flag, IdempotentRequest, Upload, UploadError
from sharing.models.jobs import FINISHED, FileJob, RowError, WorkerHeartbeat, percent, uploads_storage
from sharing.models.keys import DataKey
from sharing.models.matching import Inspection, InspectionError, InspectionHit, InspectionPart, UsageCounter
from sharing.models.reports import Report, ReportFile

__all__ = [
    "FINISHED",
    "ContributedCategory",
    "DataKey",
    "FileJob",
    "Flag",
    "IdempotentRequest",
    "Inspection",
    "InspectionError",
    "InspectionHit",
    "InspectionPart",
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
