"""The shared vocabulary: the codes and limits that the platform and the member client both speak.

Written once, here, without Django: the client may import nothing of the platform, and the
platform's choices (``sharing.choices``) give these codes their labels and translations. A code is
never renamed: stored flags, audit events and members' files refer to it.
"""

from memberkit import identifiers

# The identifier types of the standard (docs/identifiers.md), as ``memberkit.identifiers`` defines them.
ID_TYPES = identifiers.TYPES

# What a member reports about a borrower.
CATEGORIES = (
    "overdue_30",
    "overdue_60",
    "overdue_90",
    "default",
    "fraud_suspected",
    "fraud_confirmed",
    "identity_theft",
    "fund_misuse",
    "court_enforcement",
)
# Shown to every member whatever it contributes: these flags exist to protect the borrower.
PROTECTIVE_CATEGORIES = frozenset({"identity_theft"})
AMOUNT_BANDS = ("lt_10k", "10k_50k", "50k_200k", "200k_1m", "gte_1m")
# Where each band starts, in CNY; a total of bands is said as a band by ``band_of_total``.
BAND_STARTS = {"lt_10k": 0, "10k_50k": 10_000, "50k_200k": 50_000, "200k_1m": 200_000, "gte_1m": 1_000_000}
# What a band counts for in a total: its middle, and the start of the open-ended top band.
BAND_WORTH = {"lt_10k": 5_000, "10k_50k": 30_000, "50k_200k": 125_000, "200k_1m": 600_000, "gte_1m": 1_000_000}
FLAG_STATUSES = ("active", "resolved", "withdrawn", "expired")
NOTICE_CHANNELS = ("sms", "letter", "email", "app", "phone", "in_person", "contract")

# Why a member looks borrowers up; recorded with every query and inspection.
PURPOSES = ("loan_application", "credit_review", "post_loan_review", "collection", "fraud_investigation")
# A query for these needs the borrower's written authorization (credit-reporting rule, art. 18): ``consent_refusal``.
CONSENT_PURPOSES = frozenset({"loan_application", "credit_review"})

# The formats of the files members send, and the file names that say which.
FILE_FORMATS = ("csv", "jsonl")
FILE_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
# What an uploaded file holds (the platform's UploadKind): flags, or the loans a member reports.
UPLOAD_KINDS = ("flags", "loans")
# The life of a job (an upload, an inspection, a report): queued, running, then one of FINISHED.
JOB_STATUSES = ("queued", "running", "succeeded", "failed")
FINISHED = ("succeeded", "failed")

# One borrower is known by one to IDENTIFIERS_MAX identifiers, at most one of each type: a flag, a loan, a
# query's subject and an inspected row carry them all (docs/identifiers.md). In a CSV file the first is in
# the columns id_type and token, the others in id_type_2 and token_2 up to id_type_5 and token_5.
IDENTIFIERS_MAX = 5
NUMBERED_COLUMNS = tuple((f"id_type_{n}", f"token_{n}") for n in range(2, IDENTIFIERS_MAX + 1))

# Positive information: the consumer loans a member reports, with the borrower's consent.
PRODUCT_TYPES = ("cash_loan", "instalment", "credit_card", "other")
# Queries for these purposes leave a query record: the institutions that looked a borrower up for lending.
LENDING_PURPOSES = CONSENT_PURPOSES
# The multi-lender figures of a subject, in the order answers and files give them (docs/matching.md):
# distinct other institutions that queried it for lending in the last 7, 30 and 90 days; distinct other
# institutions with a loan open to it; other institutions' loans opened in the last 90 and 180 days; the
# total of their open loans' amount bands, as a band; and the caller's own, apart.
LENDING_FIGURES = (
    "institutions_queried_7d",
    "institutions_queried_30d",
    "institutions_queried_90d",
    "institutions_with_open_loans",
    "loans_opened_90d",
    "loans_opened_180d",
    "open_amount_band",
    "own_queries_90d",
    "own_open_loans",
    "own_loans_opened_180d",
)
# The figures an inspection may set a threshold on: a subject is new when one rose by at least its threshold
# since the portfolio's previous inspection (docs/matching.md). The counts of other institutions' lending.
LENDING_THRESHOLD_FIGURES = LENDING_FIGURES[:6]

# Limits, in characters for text.
SUBJECTS_MAX = 100  # subjects in one query (the platform's QUERY_SUBJECTS_MAX)
CORRELATION_MAX = 64  # a member's own id for a subject
CONSENT_MAX = 128  # the reference of a borrower's written authorization
PORTFOLIO_MAX = 100  # a portfolio's name, for an inspection
REFERENCE_MAX = 64  # a flag's reference


def band_of_total(bands: "list[str]") -> str:
    """The band in which the total of ``bands`` falls, each counted at its ``BAND_WORTH``; "" for none.

    Three loans of 10,000 to 50,000 make 90,000: the band 50,000 to 200,000.
    """
    if not bands:
        return ""
    total = sum(BAND_WORTH[band] for band in bands)
    return max((band for band, start in BAND_STARTS.items() if start <= total), key=BAND_STARTS.__getitem__)


CONSENT_REQUIRED = "consent_required"
CONSENT_TOO_LONG = "max_length"


def consent_refusal(purpose: str, consent_reference: str | None) -> str | None:
    """The consent rule: None when ``purpose`` may go with ``consent_reference``, otherwise the code of the refusal.

    Loan applications and credit reviews need the reference of the borrower's written authorization
    (``consent_required``); a reference has at most ``CONSENT_MAX`` characters (``max_length``).
    Surrounding whitespace does not count: a blank reference is none.
    """
    reference = (consent_reference or "").strip()
    if purpose in CONSENT_PURPOSES and not reference:
        return CONSENT_REQUIRED
    if len(reference) > CONSENT_MAX:
        return CONSENT_TOO_LONG
    return None
