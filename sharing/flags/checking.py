"""Checking one contributed flag, whether it came as an item of a JSON batch or a row of a file.

``Checker.check`` is the single definition of a valid flag: the REST batch, the file
upload (and, later, the portal) call it, so they accept and refuse exactly the same
things, with the same field names and reason codes. It runs once per row of
files with millions of rows, hence the plain loops and no per-row objects
beyond the result.

A flag carries one to five identifiers of its borrower, checked by the one rule of
``sharing.flags.identifiers`` (flat ``id_type``/``token`` ... ``id_type_5``/``token_5``
fields, or a JSON list ``identifiers``). Their member tokens are keyed into platform
tokens right here, at the edge; they are never kept, returned or put into an error message.
"""

import json
import json.scanner
import re
from collections.abc import Mapping
from datetime import date
from itertools import islice
from typing import Any, NamedTuple

from memberkit import labels
from memberkit.labels import holds_identifier
from memberkit.text import has_control, unstorable
from sharing.choices import (
    DETAILS_MAX_BYTES,
    DETAILS_MAX_DEPTH,
    NEGATIVE_CATEGORIES,
    REFERENCE_MAX,
    RETENTION_YEARS,
    AmountBand,
    Category,
    NoticeChannel,
)
from sharing.flags import identifiers
from sharing.flags.identifiers import Identifiers
from sharing.keys.tokens import Keyer, Peppers
from sharing.messages import FieldError, english, refusal

# A flag file's columns: the CSV header must name the required ones and may name the optional ones, among
# them the pairs of a second to fifth identifier (id_type_2, token_2 ... id_type_5, token_5).
REQUIRED_FIELDS = ("reference", "id_type", "token", "category", "event_date")
OPTIONAL_FIELDS = ("end_date", "amount_band", "notice_date", "notice_channel", "details", *identifiers.NUMBERED_FIELDS)
COLUMNS = (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)  # every column of a flag file, in order
# Every field a flag may have; JSON may give its identifiers as a list instead (``identifiers``).
FIELDS = (*COLUMNS, identifiers.LIST)
REFERENCE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:/#-]{{0,{REFERENCE_MAX - 1}}}")
UNKNOWN_FIELDS_LISTED = 10  # a row with a million unknown fields gets ten lines in the report

_FIELD_SET = frozenset(FIELDS)
_CATEGORIES = frozenset(Category.values)
_AMOUNT_BANDS = frozenset(AmountBand.values)
_CHANNELS = frozenset(NoticeChannel.values)
_REFERENCE_MATCH = REFERENCE.fullmatch
_MEMBER_IDENTIFIERS = identifiers.member_identifiers
_KEYED = identifiers.keyed
# The messages, in English, from the catalogue (sharing.messages); made once, not per row.
_NOT_A_FIELD = english("unknown_field")
_BAD_REFERENCE = english("bad_reference")
_USE_CATEGORIES = english("unknown_category")
_USE_AMOUNT_BANDS = english("unknown_amount_band")
_USE_CHANNELS = english("unknown_notice_channel")
_BAD_DATE = english("bad_date")
_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def _refusal(field: str, code: str) -> FieldError:
    return refusal(field, code)


# A row whose checking or storing raised: it costs the row, never the job (uploads and inspections alike).
UNPROCESSABLE = _refusal("", "unprocessable_row")
_IDENTIFIER_IN_REFERENCE = _refusal("reference", labels.REASON)
_REQUIRED_REFERENCE = _refusal("reference", "required")
_REQUIRED_CATEGORY = _refusal("category", "required")
_END_BEFORE_EVENT = _refusal("end_date", "end_before_event")
_NOTICE_DATE_REQUIRED = _refusal("notice_date", "notice_required")
_NOTICE_CHANNEL_REQUIRED = _refusal("notice_channel", "notice_required")
_PAST_RETENTION = english("past_retention")
_DATE_REQUIRED = english("required")
_FUTURE_DATE = english("future_date")


class CheckedFlag(NamedTuple):
    """A valid flag as the platform stores it; ``details`` is still the plain JSON bytes."""

    reference: str
    category: str
    event_date: date
    end_date: date | None
    amount_band: str
    notice_date: date | None
    notice_channel: str
    details: bytes | None
    expires_on: date
    identifiers: Identifiers  # ((id_type, platform token), ...), one to five, in the order given


def _checked(values: tuple[Any, ...]) -> CheckedFlag:
    """A CheckedFlag from a tuple in field order, without NamedTuple's keyword handling (the hot path)."""
    return tuple.__new__(CheckedFlag, values)


class Checker:
    """Checks flags against today's date with the platform's current peppers."""

    def __init__(self, peppers: Peppers, today: date) -> None:
        self.today = today
        # The pepper chain, oldest first: a member token is keyed by each in turn (sharing.keys.tokens).
        self._keyer = Keyer(peppers)

    def check(self, item: Mapping[str, Any]) -> CheckedFlag | list[FieldError]:
        errors: list[FieldError] = []
        if not _FIELD_SET.issuperset(item):
            unknown = (name for name in item if name not in _FIELD_SET)
            errors.extend(
                FieldError(_field_name(name), "unknown_field", _NOT_A_FIELD)
                for name in islice(unknown, UNKNOWN_FIELDS_LISTED)
            )

        reference = item.get("reference")
        if type(reference) is not str:
            reference = _text(reference)
        if not reference:
            errors.append(_REQUIRED_REFERENCE)
        elif (refused := reference_refusal(reference)) is not None:
            errors.append(refused)

        # Never echoed: a token is a borrower's, or worse, a raw identifier sent by mistake.
        member_identifiers, wrong = _MEMBER_IDENTIFIERS(item)
        if wrong:
            errors += wrong

        category = item.get("category")
        if type(category) is not str:
            category = _text(category)
        if category not in _CATEGORIES:
            errors.append(
                _REQUIRED_CATEGORY if not category else FieldError("category", "unknown_category", _USE_CATEGORIES)
            )

        today = self.today
        event_date = _date(item.get("event_date"), "event_date", errors, today, required=True)
        end_date = _date(item.get("end_date"), "end_date", errors, today)
        if event_date and end_date and end_date < event_date:
            errors.append(_END_BEFORE_EVENT)

        amount_band = item.get("amount_band") or ""
        if type(amount_band) is not str:
            amount_band = _text(amount_band)
        if amount_band and amount_band not in _AMOUNT_BANDS:
            errors.append(FieldError("amount_band", "unknown_amount_band", _USE_AMOUNT_BANDS))

        notice_date = _date(item.get("notice_date"), "notice_date", errors, today)
        notice_channel = item.get("notice_channel") or ""
        if type(notice_channel) is not str:
            notice_channel = _text(notice_channel)
        if notice_channel and notice_channel not in _CHANNELS:
            errors.append(FieldError("notice_channel", "unknown_notice_channel", _USE_CHANNELS))
        if category in NEGATIVE_CATEGORIES:
            if notice_date is None and not any(error.field == "notice_date" for error in errors):
                errors.append(_NOTICE_DATE_REQUIRED)
            if not notice_channel:
                errors.append(_NOTICE_CHANNEL_REQUIRED)

        details = item.get("details")
        if details is not None and details != "":
            details = _details(details, errors)
        else:
            details = None

        expires_on = date.min
        if event_date:
            expires_on = expiry(end_date or event_date)
            if expires_on <= today:
                errors.append(
                    FieldError(
                        "end_date" if end_date else "event_date",
                        "past_retention",
                        _PAST_RETENTION,
                    )
                )
        if errors:
            return errors
        assert event_date is not None  # no errors: it was given and valid
        return _checked(
            (
                reference,
                category,
                event_date,
                end_date,
                amount_band,
                notice_date,
                notice_channel,
                details,
                expires_on,
                _KEYED(member_identifiers, self._keyer),
            )
        )


def reference_refusal(reference: str) -> FieldError | None:
    """The refusal of a member's non-empty reference (a flag's, a loan's), or None if it is one.

    An identifier written with spaces or full-width digits is said to be one, not a bad reference.
    """
    if not _REFERENCE_MATCH(reference):
        if len(reference) <= 256 and holds_identifier(reference):
            return _IDENTIFIER_IN_REFERENCE
        return FieldError("reference", "bad_reference", _BAD_REFERENCE)
    if holds_identifier(reference):
        return _IDENTIFIER_IN_REFERENCE
    return None


def parsed_date(value: Any, name: str, errors: list[FieldError], today: date, required: bool = False) -> date | None:
    """The date ``value`` gives (YYYY-MM-DD, not after ``today``), or None with its refusal added to ``errors``."""
    return _date(value, name, errors, today, required)


def _date(value: Any, name: str, errors: list[FieldError], today: date, required: bool = False) -> date | None:
    if value is None or value == "":
        if required:
            errors.append(FieldError(name, "required", _DATE_REQUIRED))
        return None
    # fromisoformat alone would also take 20260301 and week dates such as 2026-W09-7.
    if type(value) is not str or len(value) != 10 or value[4] != "-" or value[7] != "-":
        errors.append(FieldError(name, "bad_date", _BAD_DATE))
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        errors.append(FieldError(name, "bad_date", _BAD_DATE))
        return None
    if parsed > today:
        errors.append(FieldError(name, "future_date", _FUTURE_DATE))
        return None
    return parsed


def years_after(day: date, years: int) -> date:
    """The same day ``years`` calendar years on; 29 February's is 1 March when that year has none."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def expiry(ended: date) -> date:
    """Retention ends five years after the event ended (art. 16); 29 February ends on 1 March."""
    return years_after(ended, RETENTION_YEARS)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _json_object(text: str) -> Any:
    """The value of ``text`` if it is exactly one JSON object, else None.

    The C scanner directly: json.loads wraps it in regular expressions that cost more than the scan.
    """
    if text[:1] != "{":
        text = text.lstrip()
        if text[:1] != "{":
            return None
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError):
        return None
    return value if end == len(text) or not text[end:].strip() else None


def _details(value: Any, errors: list[FieldError]) -> bytes | None:
    """Details arrive as a JSON object (JSON batches, JSON Lines) or as its text (a CSV column)."""
    try:
        if isinstance(value, str):
            # The member's own text is kept as it is (it is valid JSON): no second encoding per row.
            encoded = value.encode()
            value = _json_object(value)
        else:
            encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate: no encoding of it exists
        errors.append(_UNSTORABLE_DETAILS)
        return None
    except RecursionError:  # nested past what the C parser or encoder takes
        errors.append(_DEEP_DETAILS)
        return None
    if not isinstance(value, dict):
        errors.append(_BAD_DETAILS)
        return None
    if len(encoded) > DETAILS_MAX_BYTES:
        errors.append(_LARGE_DETAILS)
        return None
    # Walked only when it may matter: an escape (\u0000, \ud800 in the text) or enough brackets to nest deep.
    if b"\\u" in encoded or encoded.count(b"{") + encoded.count(b"[") > DETAILS_MAX_DEPTH:
        problem = _details_problem(value)
        if problem is not None:
            errors.append(problem)
            return None
    return encoded


_BAD_DETAILS = _refusal("details", "bad_details")
_LARGE_DETAILS = _refusal("details", "details_too_large")
_UNSTORABLE_DETAILS = _refusal("details", "unstorable_text")
_DEEP_DETAILS = _refusal("details", "details_too_deep")


def _details_problem(details: dict[str, Any]) -> FieldError | None:
    """Whether parsed details nest too deep or hold unstorable text, in a key or a value; walked without recursion."""
    stack: list[tuple[Any, int]] = [(details, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > DETAILS_MAX_DEPTH:
                return _DEEP_DETAILS
            for key, item in node.items():
                if unstorable(key):
                    return _UNSTORABLE_DETAILS
                stack.append((item, depth + 1))
        elif isinstance(node, list):
            if depth > DETAILS_MAX_DEPTH:
                return _DEEP_DETAILS
            stack.extend((item, depth + 1) for item in node)
        elif isinstance(node, str) and unstorable(node):
            return _UNSTORABLE_DETAILS
    return None


def _field_name(name: object) -> str:
    """An unknown field's name as the error report shows it: escaped if it holds a control character, and short."""
    text = str(name)
    if has_control(text):
        text = text.encode("unicode_escape").decode("ascii")
    return text[:64]
