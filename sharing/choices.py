"""The fixed vocabularies of shared risk information: identifier types, categories, statuses."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from memberkit import vocabulary


class IdType(models.TextChoices):
    """The identifier types of the standard (docs/identifiers.md)."""

    CNID = "cnid", _("Resident identity number")
    MOBILE = "mobile", _("Mobile number")
    USCC = "uscc", _("Unified social credit code")
    PASSPORT = "passport", _("Passport")


class Category(models.TextChoices):
    """What a member reports about a borrower. Never rename one: stored flags refer to it."""

    OVERDUE_30 = "overdue_30", _("Overdue 30 days")
    OVERDUE_60 = "overdue_60", _("Overdue 60 days")
    OVERDUE_90 = "overdue_90", _("Overdue 90 days or more")
    DEFAULT = "default", _("Default (written off)")
    FRAUD_SUSPECTED = "fraud_suspected", _("Suspected fraud")
    FRAUD_CONFIRMED = "fraud_confirmed", _("Confirmed fraud")
    IDENTITY_THEFT = "identity_theft", _("Identity theft (protective)")
    FUND_MISUSE = "fund_misuse", _("Misuse of loan funds")
    COURT_ENFORCEMENT = "court_enforcement", _("Court enforcement")


DEFINITIONS = {
    Category.OVERDUE_30: _("A repayment is 30 to 59 days past due."),
    Category.OVERDUE_60: _("A repayment is 60 to 89 days past due."),
    Category.OVERDUE_90: _("A repayment is 90 days or more past due."),
    Category.DEFAULT: _("The lender has written the loan off as lost."),
    Category.FRAUD_SUSPECTED: _("The lender suspects the application or the use of the loan was fraudulent."),
    Category.FRAUD_CONFIRMED: _("Fraud established by the lender's investigation, the police or a court."),
    Category.IDENTITY_THEFT: _(
        "The identity was stolen and used by someone else: verify the applicant, do not decline the victim."
    ),
    Category.FUND_MISUSE: _(
        "Loan funds were diverted from their stated use, for example into property, securities or other lending."
    ),
    Category.COURT_ENFORCEMENT: _("The borrower is a judgment debtor under court enforcement."),
}

# Retention (art. 16): negative information is kept five years from the end of its event.
RETENTION_YEARS = 5
# A flag's details: a JSON object, sealed at rest, which whoever reads it back parses whole.
DETAILS_MAX_BYTES = 4096
DETAILS_MAX_DEPTH = 32  # levels of objects and arrays
# A member's labels for a query: its own id for a subject (as InspectionHit.correlation_id holds it)
# and the reference of a borrower's written authorization; the member kit's vocabulary sets them.
CORRELATION_MAX = vocabulary.CORRELATION_MAX
CONSENT_MAX = vocabulary.CONSENT_MAX
# A flag's reference, the member's own id for the case; a portfolio's name, for an inspection.
REFERENCE_MAX = vocabulary.REFERENCE_MAX
PORTFOLIO_MAX = vocabulary.PORTFOLIO_MAX

# A borrower's identifiers on one flag, loan, query subject or inspected row (docs/identifiers.md).
IDENTIFIERS_MAX = vocabulary.IDENTIFIERS_MAX
# A loan is kept while open and for five years after it closes; a query record for two years.
LOAN_RETENTION_YEARS = RETENTION_YEARS
QUERY_RECORD_YEARS = 2
LENDING_PURPOSES = vocabulary.LENDING_PURPOSES

# Shown to every member whatever it contributes: these flags exist to protect the borrower.
PROTECTIVE_CATEGORIES = vocabulary.PROTECTIVE_CATEGORIES
# Negative information may be filed only after the borrower was told (credit-reporting rule, art. 15).
# A protective flag (identity_theft) needs no notice.
NEGATIVE_CATEGORIES = frozenset(Category.values) - PROTECTIVE_CATEGORIES


class AmountBand(models.TextChoices):
    """The amount at stake, in bands so that no exact amount is shared (CNY)."""

    UNDER_10K = "lt_10k", _("Under 10,000")
    FROM_10K = "10k_50k", _("10,000 to 50,000")
    FROM_50K = "50k_200k", _("50,000 to 200,000")
    FROM_200K = "200k_1m", _("200,000 to 1,000,000")
    FROM_1M = "gte_1m", _("1,000,000 or more")


class ProductType(models.TextChoices):
    """The kind of consumer loan a member reports (positive information)."""

    CASH_LOAN = "cash_loan", _("Cash loan")
    INSTALMENT = "instalment", _("Instalment purchase")
    CREDIT_CARD = "credit_card", _("Credit card")
    OTHER = "other", _("Other")


assert tuple(ProductType.values) == vocabulary.PRODUCT_TYPES


class UploadKind(models.TextChoices):
    """What an uploaded file holds."""

    FLAGS = "flags", _("Flags")
    LOANS = "loans", _("Loans")


class FlagStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    RESOLVED = "resolved", _("Resolved")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Expired")


# What a member may change a flag's status to (PATCH /api/v1/flags/{id}).
FLAG_CHANGES = [(status.value, status.label) for status in (FlagStatus.RESOLVED, FlagStatus.WITHDRAWN)]


class NoticeChannel(models.TextChoices):
    """How the borrower was told before negative information was filed."""

    SMS = "sms", _("Text message")
    LETTER = "letter", _("Letter")
    EMAIL = "email", _("Email")
    APP = "app", _("In-app message")
    PHONE = "phone", _("Phone call")
    IN_PERSON = "in_person", _("In person")
    CONTRACT = "contract", _("Loan contract clause")


class JobStatus(models.TextChoices):
    """Where a job (an upload, an inspection, a report) stands."""

    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class FileFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSONL = "jsonl", "JSON Lines"


class QueryPurpose(models.TextChoices):
    """Why a member looks borrowers up; recorded with every query."""

    LOAN_APPLICATION = "loan_application", _("Loan application")
    CREDIT_REVIEW = "credit_review", _("Credit review")
    POST_LOAN_REVIEW = "post_loan_review", _("Post-loan review")
    COLLECTION = "collection", _("Collection")
    FRAUD_INVESTIGATION = "fraud_investigation", _("Fraud investigation")


# A query for these needs the borrower's written authorization (credit-reporting rule, art. 18).
CONSENT_PURPOSES = vocabulary.CONSENT_PURPOSES


class ReportTrigger(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    REQUESTED = "requested", _("Requested")


class ReportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"
