"""Checking one contributed flag, whether it came as an item of a JSON batch or a row of a file.

``check_flag`` is the single definition of a valid flag: the REST batch, the file
upload and the portal all call it, so they accept and refuse exactly the same
things, with the same field names and reason codes. It runs once per row of
files with millions of rows, hence the plain loops and no per-row objects
beyond the result.

The member token is keyed into the platform token right here, at the edge; it is
never kept, returned or put into an error message.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from sharing.choices import NEGATIVE_CATEGORIES, AmountBand, Category, IdType, NoticeChannel
from sharing.tokens import MEMBER_TOKEN, Peppers, platform_token

REQUIRED_FIELDS = ("reference", "id_type", "token", "category", "event_date")
OPTIONAL_FIELDS = ("end_date", "amount_band", "notice_date", "notice_channel", "details")
FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}")
DETAILS_MAX_BYTES = 4096
RETENTION_YEARS = 5

_ID_TYPES = frozenset(IdType.values)
_CATEGORIES = frozenset(Category.values)
_AMOUNT_BANDS = frozenset(AmountBand.values)
_CHANNELS = frozenset(NoticeChannel.values)


class FieldError(NamedTuple):
    field: str
    code: str
    message: str


class CheckedFlag(NamedTuple):
    """A valid flag as the platform stores it; ``details`` is still the plain JSON bytes."""

    reference: str
    id_type: str
    token: bytes
    category: str
    event_date: date
    end_date: date | None
    amount_band: str
    notice_date: date | None
    notice_channel: str
    details: bytes | None
    expires_on: date


@dataclass(frozen=True)
class Checker:
    """Checks flags against today's date with the platform's current peppers."""

    peppers: Peppers
    today: date

    def check(self, item: Mapping[str, Any]) -> CheckedFlag | list[FieldError]:
        errors: list[FieldError] = []
        for name in item:
            if name not in FIELDS:
                errors.append(FieldError(str(name), "unknown_field", "Not a field of a flag."))

        reference = _text(item.get("reference"))
        if not reference:
            errors.append(FieldError("reference", "required", "The member's reference for the flag is required."))
        elif not REFERENCE.fullmatch(reference):
            errors.append(
                FieldError(
                    "reference",
                    "bad_reference",
                    "Use 1 to 64 letters, digits and . _ : / # -, starting with a letter or digit.",
                )
            )

        id_type = _text(item.get("id_type"))
        if not id_type:
            errors.append(FieldError("id_type", "required", "The identifier type is required."))
        elif id_type not in _ID_TYPES:
            errors.append(FieldError("id_type", "unknown_id_type", f"Use one of: {', '.join(IdType.values)}."))

        token = b""
        member_token = item.get("token")
        if member_token is None or member_token == "":
            errors.append(FieldError("token", "required", "The member token is required."))
        elif not isinstance(member_token, str) or not MEMBER_TOKEN.fullmatch(member_token):
            # Never echo the value: it is a borrower's token, or worse, a raw identifier sent by mistake.
            errors.append(FieldError("token", "bad_token", "A member token is 64 lowercase hexadecimal characters."))
        else:
            token = platform_token(member_token, self.peppers)

        category = _text(item.get("category"))
        if not category:
            errors.append(FieldError("category", "required", "The category is required."))
        elif category not in _CATEGORIES:
            errors.append(FieldError("category", "unknown_category", f"Use one of: {', '.join(Category.values)}."))

        event_date = self._date(item, "event_date", errors, required=True)
        end_date = self._date(item, "end_date", errors)
        if event_date and end_date and end_date < event_date:
            errors.append(FieldError("end_date", "end_before_event", "The event cannot end before it happened."))

        amount_band = _text(item.get("amount_band"))
        if amount_band and amount_band not in _AMOUNT_BANDS:
            errors.append(
                FieldError("amount_band", "unknown_amount_band", f"Use one of: {', '.join(AmountBand.values)}.")
            )

        notice_date = self._date(item, "notice_date", errors)
        notice_channel = _text(item.get("notice_channel"))
        if notice_channel and notice_channel not in _CHANNELS:
            errors.append(
                FieldError(
                    "notice_channel", "unknown_notice_channel", f"Use one of: {', '.join(NoticeChannel.values)}."
                )
            )
        if category in NEGATIVE_CATEGORIES:
            if notice_date is None and "notice_date" not in _named(errors):
                errors.append(
                    FieldError(
                        "notice_date", "notice_required", "Negative information needs the date the borrower was told."
                    )
                )
            if not notice_channel:
                errors.append(
                    FieldError(
                        "notice_channel", "notice_required", "Negative information needs how the borrower was told."
                    )
                )

        details = _details(item.get("details"), errors)

        expires_on = date.min
        if event_date:
            expires_on = expiry(end_date or event_date)
            if expires_on <= self.today:
                errors.append(
                    FieldError(
                        "end_date" if end_date else "event_date",
                        "past_retention",
                        f"The event ended more than {RETENTION_YEARS} years ago; it may no longer be filed.",
                    )
                )
        if errors:
            return errors
        return CheckedFlag(
            reference,
            id_type,
            token,
            category,
            event_date,  # type: ignore[arg-type]  # checked above: no errors means it is set
            end_date,
            amount_band,
            notice_date,
            notice_channel,
            details,
            expires_on,
        )

    def _date(
        self, item: Mapping[str, Any], name: str, errors: list[FieldError], required: bool = False
    ) -> date | None:
        value = item.get(name)
        if value is None or value == "":
            if required:
                errors.append(FieldError(name, "required", "The date is required."))
            return None
        if not isinstance(value, str) or len(value) != 10:
            errors.append(FieldError(name, "bad_date", "Write the date as YYYY-MM-DD."))
            return None
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            errors.append(FieldError(name, "bad_date", "Write the date as YYYY-MM-DD."))
            return None
        if parsed > self.today:
            errors.append(FieldError(name, "future_date", "The date is in the future."))
            return None
        return parsed


def expiry(ended: date) -> date:
    """Retention ends five years after the event ended (art. 16); 29 February ends on 1 March."""
    try:
        return ended.replace(year=ended.year + RETENTION_YEARS)
    except ValueError:
        return date(ended.year + RETENTION_YEARS, 3, 1)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _named(errors: list[FieldError]) -> set[str]:
    return {error.field for error in errors}


def _details(value: Any, errors: list[FieldError]) -> bytes | None:
    """Details arrive as a JSON object (JSON batches, JSON Lines) or as its text (a CSV column)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            errors.append(FieldError("details", "bad_details", "Details must be a JSON object."))
            return None
    if not isinstance(value, dict):
        errors.append(FieldError("details", "bad_details", "Details must be a JSON object."))
        return None
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    if len(encoded) > DETAILS_MAX_BYTES:
        errors.append(
            FieldError("details", "details_too_large", f"Details are limited to {DETAILS_MAX_BYTES} bytes of JSON.")
        )
        return None
    return encoded
