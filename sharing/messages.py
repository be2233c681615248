"""What each error code of sharing says, written once: English here, zh-Hans in locale/.

Machines read the code; people read the message. ``TEXTS`` holds every message of a code that
a row, a field or a service refuses with, keyed by the code, or by ``code.field`` where the code
is said differently of different fields or cases (``required.token``, ``bad_json.object``).
The row checkers store and answer the English text (``english``): an error report is written by
a worker that has no reader, and is the same whoever downloads it. Services and the portal show
the reader's language (``message``).

``FAILURES`` says what a failed job's code means, for the person following the job; the job's
own ``error`` adds, in English, the specifics (which line, how many rows).
"""

from collections.abc import Mapping
from typing import NamedTuple

from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext_noop as _
from django_stubs_ext import StrOrPromise

from memberkit import labels
from memberkit.vocabulary import LENDING_THRESHOLD_FIGURES
from sharing.choices import (
    CONSENT_MAX,
    CORRELATION_MAX,
    DETAILS_MAX_BYTES,
    DETAILS_MAX_DEPTH,
    IDENTIFIERS_MAX,
    RETENTION_YEARS,
    AmountBand,
    Category,
    IdType,
    NoticeChannel,
    ProductType,
)

_USE_ONE_OF = _("Use one of: %(choices)s.")

TEXTS: Mapping[str, str] = {
    # A flag's fields (sharing.flags.checking) and an inspected row's (sharing.matching.inspections).
    "unknown_field": _("Not a field of a flag."),
    "unknown_field.identifier": _("Not a field of an identifier: give id_type and token."),
    "required": _("The date is required."),
    "required.reference": _("The member's reference for the flag is required."),
    "required.id_type": _("The identifier type is required."),
    "required.token": _("The member token is required."),
    "required.category": _("The category is required."),
    "required.correlation_id": _("Your id for the row is required."),
    "required.reason": _("Withdrawing a flag needs a reason."),
    "bad_reference": _("Use 1 to 64 letters, digits and . _ : / # -, starting with a letter or digit."),
    labels.REASON: labels.MESSAGE,
    labels.CONTROL_REASON: labels.CONTROL_MESSAGE,
    "unknown_id_type": _USE_ONE_OF,
    "unknown_category": _USE_ONE_OF,
    "unknown_amount_band": _USE_ONE_OF,
    "unknown_notice_channel": _USE_ONE_OF,
    "bad_token": _("A member token is 64 lowercase hexadecimal characters."),
    # A borrower's identifiers (sharing.flags.identifiers), on a flag, a loan, a subject or an inspected row.
    "required.identifiers": _("Give one to %(most)s identifiers of the borrower."),
    "bad_identifiers": _("Send identifiers as a list of objects, each with id_type and token."),
    "too_many_identifiers": _("A borrower is given at most %(most)s identifiers."),
    "duplicate_id_type": _("Give at most one identifier of each type."),
    "identifier_forms": _("Send either identifiers or id_type and token, not both."),
    "shared_token": _(
        "An identifier of this row is also an identifier of another of your records with different"
        " identifiers (a shared phone, say); both were stored as given."
    ),
    # A loan's fields (sharing.loans.checking).
    "unknown_field.loan": _("Not a field of a loan."),
    "required.loan_reference": _("The member's reference for the loan is required."),
    "required.product": _("The product type is required."),
    "unknown_product": _USE_ONE_OF,
    "required.amount_band": _("The amount band is required."),
    "required.consent_reference": _(
        "A loan is reported under the borrower's consent: give the reference of their written authorization."
    ),
    "bad_consent_reference": _("Use text of at most %(most)s characters."),
    "closed_before_opened": _("A loan cannot close before it opened."),
    "past_loan_retention": _("The loan closed more than %(years)s years ago; it may no longer be reported."),
    "duplicate_reference.loan": _("Item %(item)s has the same reference; send each loan once."),
    "required.loans": 'Send {"loans": [...]}, a list of loans.',
    "batch_size.loans": _("Send 1 to %(most)s loans per request; this one has %(sent)s."),
    "invalid.loans": _("Each loan is a JSON object."),
    "no_loan_contributions": _(
        "Multi-lender figures need loan contributions: your institution has reported no loans in the last"
        " %(days)s days."
    ),
    # An inspection's thresholds (sharing.api.serializers.inspections).
    "unknown_figure": _("Not a multi-lender figure that takes a threshold; use one of: %(choices)s."),
    "bad_lending_thresholds": _(
        'Send an object of figures and the rise that makes a subject new, such as {"institutions_queried_30d": 2}.'
    ),
    "bad_correlation_id": _("Use text of at most %(most)s characters."),
    "bad_date": _("Write the date as YYYY-MM-DD."),
    "future_date": _("The date is in the future."),
    "end_before_event": _("The event cannot end before it happened."),
    "notice_required.notice_date": _("Negative information needs the date the borrower was told."),
    "notice_required.notice_channel": _("Negative information needs how the borrower was told."),
    "past_retention": _("The event ended more than %(years)s years ago; it may no longer be filed."),
    "bad_details": _("Details must be a JSON object."),
    "details_too_large": _("Details are limited to %(bytes)s bytes of JSON."),
    "details_too_deep": _("Details nest objects and arrays at most %(depth)s levels deep."),
    "unstorable_text.details": _("Details hold a NUL character or a lone surrogate, which cannot be stored."),
    "unstorable_text.correlation_id": _("The id holds a NUL character or a lone surrogate, which cannot be stored."),
    "duplicate_reference": _("Item %(item)s has the same reference; send each flag once."),
    "superseded": _("Row %(row)s has the same reference; the later row was stored."),
    # A file's header and rows (sharing.flags.reading).
    "missing_column": _("The column is required."),
    "unknown_column": _("Not a column of a %(noun)s."),
    "duplicate_column": _("The column appears twice."),
    "bad_row": _("The row has %(fields)s fields; the header has %(width)s."),
    "bad_json": _("The line is not valid JSON."),
    "bad_json.object": _("The line is not a JSON object."),
    "too_deep": _("The line nests arrays or objects too deeply."),
    "unprocessable_row": _("The row could not be processed and was refused; the rest of the file was processed."),
    # The services' refusals (sharing.flags.services, sharing.reports.jobs) and the query's.
    "not_open.resolve": _("A flag that is %(status)s cannot be resolved."),
    "not_open.withdraw": _("An expired flag cannot be withdrawn."),
    "end_before_start": _("The period ends before it starts."),
    "future_date.ends_on": _("The period cannot end in the future."),
    "period_too_long": _("A report covers at most %(days)s days."),
    "consent_required": _("This purpose needs the reference of the borrower's written authorization."),
    "consent_required.portfolio": _("This purpose needs the reference of the borrowers' written authorization."),
    # The API's refusals of a whole request (sharing.api, sharing.flags.idempotency, sharing.matching.quotas);
    # the two not marked for translation are answered in English (``english``), as the row checks are.
    "required.flags": 'Send {"flags": [...]}, a list of flags.',
    "batch_size": _("Send 1 to %(most)s flags per request; this one has %(sent)s."),
    "invalid.flags": _("Each flag is a JSON object."),
    "invalid.end_date": _("Resolving a flag needs the date its event ended."),
    "required.format": "Name the format: csv or jsonl.",
    "file_too_large": _("A file may have at most %(limit)s bytes."),
    "file_too_large.default": _("The file is over the size limit."),
    "not_reciprocal.query": _(
        "Your institution has contributed no flags in the last %(days)s days; contribute to query."
    ),
    "not_reciprocal.inspect": _(
        "Your institution has contributed no flags in the last %(days)s days; contribute to inspect."
    ),
    "rate_exceeded": _("More than %(rate)s subjects a minute; slow down."),
    "quota_exceeded": _("The daily quota of %(quota)s subjects is used up."),
    "not_finished.inspection": _("The inspection has not succeeded; its results exist once it has."),
    "not_finished.report": _("The report has not been built yet; its figures and files exist once it has."),
    "not_found.report_slice": _("This report has no figures of your institution."),
    "idempotency_key_reused": _(
        "This Idempotency-Key was used for a different request; use a new key for a new request."
    ),
    "idempotency_key_in_flight": _(
        "Another request with this Idempotency-Key was being processed; retry to get its answer."
    ),
    # Why a job failed, with its specifics, as the job's ``error`` keeps them (in English; FAILURES below says
    # what each code means to a person).
    "not_utf8": "Line %(line)s is not UTF-8 text; save the file as UTF-8.",
    "bad_csv": "Line %(line)s cannot be read as CSV: %(error)s.",
    "empty_file": "The file has no header line.",
    "empty_file.rows": "The file holds no rows.",
    "header_too_long": "The header line is longer than %(kib)s KiB.",
    "too_many_rows": "A file holds at most %(most)s rows.",
    "too_many_attempts": "The job was started %(attempts)s times without finishing; the platform's logs say why.",
    "internal_error.report": "An unexpected error stopped the report; request it again. Reference %(reference)s.",
    "internal_error.rows": "An unexpected error stopped the job after %(rows)s rows%(kept)s; send the same file again"
    " to complete it. Reference %(reference)s.",
}

# Values that a message always says the same way: the vocabularies and the limits.
_FIXED: Mapping[str, Mapping[str, object]] = {
    "unknown_id_type": {"choices": ", ".join(IdType.values)},
    "unknown_category": {"choices": ", ".join(Category.values)},
    "unknown_amount_band": {"choices": ", ".join(AmountBand.values)},
    "unknown_notice_channel": {"choices": ", ".join(NoticeChannel.values)},
    "bad_correlation_id": {"most": CORRELATION_MAX},
    "required.identifiers": {"most": IDENTIFIERS_MAX},
    "too_many_identifiers": {"most": IDENTIFIERS_MAX},
    "bad_consent_reference": {"most": CONSENT_MAX},
    "unknown_product": {"choices": ", ".join(ProductType.values)},
    "unknown_figure": {"choices": ", ".join(LENDING_THRESHOLD_FIGURES)},
    "past_loan_retention": {"years": RETENTION_YEARS},
    "past_retention": {"years": RETENTION_YEARS},
    "details_too_large": {"bytes": DETAILS_MAX_BYTES},
    "details_too_deep": {"depth": DETAILS_MAX_DEPTH},
}

FAILURES: Mapping[str, StrOrPromise] = {
    "not_utf8": gettext_lazy("The file is not UTF-8 text: save it as UTF-8 and send it again."),
    "empty_file": gettext_lazy("The file holds no rows."),
    "bad_csv": gettext_lazy("The file cannot be read as CSV."),
    "too_many_rows": gettext_lazy("The file holds more rows than one job may have: split it."),
    "missing_column": gettext_lazy("The file's header lacks a required column."),
    "unknown_column": gettext_lazy("The file's header names a column this kind of file does not have."),
    "duplicate_column": gettext_lazy("The file's header names a column twice."),
    "too_many_attempts": gettext_lazy(
        "The platform could not finish the job after several attempts; send the file again, or tell the operator."
    ),
}
FAILED = gettext_lazy("The job failed.")


class FieldError(NamedTuple):
    """One field's refusal: the field as the sender named it, the code, and the message in English."""

    field: str
    code: str
    message: str


def refusal(field: str, code: str, said_of: str = "", **values: object) -> FieldError:
    """``code`` said of ``field`` (worded as for ``said_of`` if given: ``token_2`` is said of as ``token``),
    in English, as a row's report and the API give it."""
    return FieldError(field, code, english(code, said_of or field, **values))


def key(code: str, field: str = "") -> str | None:
    """The catalogue's key for ``code`` said of ``field``: the field's own wording, else the code's."""
    if field and f"{code}.{field}" in TEXTS:
        return f"{code}.{field}"
    return code if code in TEXTS else None


def english(code: str, field: str = "", **values: object) -> str:
    """The English message of ``code`` said of ``field``, as reports store it and the API answers it."""
    found = key(code, field)
    if found is None:
        raise KeyError(f"no message for {code!r}")
    return TEXTS[found] % {**_FIXED.get(found, {}), **values}


def message(code: str, field: str = "", **values: object) -> str:
    """The message of ``code`` said of ``field``, in the active language.

    ``KeyError`` if the catalogue has no such code, or if its message needs a value not given
    (the row that a later row superseded, say): the caller then shows the English it was given.
    """
    found = key(code, field)
    if found is None:
        raise KeyError(f"no message for {code!r}")
    return gettext(TEXTS[found]) % {**_FIXED.get(found, {}), **values}


def lazy_message(code: str, field: str = "") -> StrOrPromise:
    """``message`` when it is shown, not now: an exception's ``default_detail``, defined at import."""
    return _lazy_message(code, field)


_lazy_message = lazy(message, str)


def stopped_after(rows: int, stored: int | None, reference: str) -> str:
    """The message of a file job stopped by an unexpected error after ``rows`` rows were done (sharing.jobs)."""
    kept = f" ({stored:,} flags stored)" if stored is not None else ""
    return english("internal_error", "rows", rows=f"{rows:,}", kept=kept, reference=reference)


def failure(code: str) -> StrOrPromise:
    """What a failed job's ``error_code`` means, for the person following the job."""
    return FAILURES.get(code, FAILED)
