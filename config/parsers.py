"""Request bodies read so that no body gives a 500.

DRF's parsers hand back whatever the body holds, and two kinds of body then fail deep inside
the platform instead of at the door:

- JSON nested thousands deep: the decoder runs out of stack (``RecursionError``, which DRF
  does not catch). Nothing in the API nests more than a few levels, so a body nested deeper
  than ``MAX_DEPTH`` is refused as a whole, however it is written.
- text that no field can store or encode (``memberkit.text.unstorable``: a NUL or a lone
  surrogate): every later step (a choice field's message that echoes it, the renderer,
  PostgreSQL, the details' encryption) would fail on it. Any string holding one, value or
  object key, anywhere in the body, is refused with a field error naming where it is.

The multipart parser (uploads and inspections) checks its fields and file names the same
way: a request that declares a charset such as ``unicode_escape`` can put either into them.

A date-time read from a request (a filter, a form) goes through ``storable_datetime``:
ISO 8601 allows offsets that no time zone has and PostgreSQL refuses (past ±15:59), and
a date-time at either end of Python's range has no UTC value on the other side.
"""

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers
from rest_framework.parsers import get_encoding  # type: ignore[attr-defined]  # not in the stubs
from rest_framework.utils import json

from memberkit.text import escaped, unstorable

# Deeper than any body the API takes (a flag's details included), far below the decoder's stack.
MAX_DEPTH = 64
# A body full of bad strings gets the first ones named, not a response as large as itself.
MAX_ERRORS = 100

UNSTORABLE_MESSAGE = _("This text holds a NUL character or a lone surrogate, which cannot be stored.")
UNSTORABLE_KEY_MESSAGE = _("This name holds a NUL character or a lone surrogate, which cannot be stored.")


# PostgreSQL takes a UTC offset up to 15:59 either way; real time zones stay within 14 hours.
MAX_OFFSET = timedelta(hours=15, minutes=59)


def storable_datetime(value: datetime) -> datetime:
    """``value`` in UTC, or a ``ValidationError`` if no database column can take it.

    Used as a validator it refuses; used on the value, it also hands every database the same
    UTC instant, whatever offset the caller wrote.
    """
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        raise ValidationError(_("The time zone offset must lie between -15:59 and +15:59."), code="offset_out_of_range")
    try:
        return value.astimezone(UTC) if offset is not None else value
    except OverflowError:
        raise ValidationError(_("The date-time is out of range."), code="datetime_out_of_range") from None


def validate_storable_datetime(value: datetime) -> None:
    """``storable_datetime`` as a form field's validator."""
    storable_datetime(value)


class NestingTooDeep(exceptions.ParseError):
    default_code = "nesting_too_deep"
    default_detail = _("The JSON body is nested too deep.")


class NotFinite(ValueError):
    pass


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotFinite(f"Number out of range: {text[:40]}")
    return value


def _child(path: str | None, key: str | int) -> str:
    """The path of a member or item, in the style of ``config.problems.field_errors``."""
    if isinstance(key, int):
        return f"{path or ''}[{key}]"
    return f"{path}.{escaped(key)}" if path else escaped(key)


def unstorable_paths(document: Any) -> Iterator[tuple[str | None, bool]]:
    """Where ``document`` holds unstorable text: ``(path, is_key)``, in document order.

    Iterative, so a document of any depth is walked without recursion. For an object key
    the path names the key itself (with the bad characters escaped).
    """
    stack: list[tuple[Any, str | None]] = [(document, None)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if unstorable(value):
                yield path, False
        elif isinstance(value, Mapping):
            children = []
            for key, item in value.items():
                child = _child(path, key)
                if isinstance(key, str) and unstorable(key):
                    yield child, True
                children.append((item, child))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend((item, _child(path, index)) for index, item in reversed(list(enumerate(value))))


def depth_of(document: Any, limit: int) -> int:
    """How deep ``document``'s containers nest (a scalar is 0), counted no further than ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if depth > limit:
                break
            stack.extend((item, depth) for item in (value.values() if isinstance(value, dict) else value))
    return deepest


def refuse_unstorable(document: Any) -> None:
    """Raise a field-level 400 naming every place (up to ``MAX_ERRORS``) that holds unstorable text."""
    errors: dict[str, list[exceptions.ErrorDetail]] = {}
    for path, is_key in unstorable_paths(document):
        message = UNSTORABLE_KEY_MESSAGE if is_key else UNSTORABLE_MESSAGE
        errors.setdefault(path or "non_field_errors", []).append(
            exceptions.ErrorDetail(str(message), code="unstorable_text")
        )
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise exceptions.ValidationError(errors)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing what it would let through to fail later: see the module's docstring."""

    def parse(self, stream: IO[Any], media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = get_encoding(parser_context or {})  # text codecs only
        try:
            text = stream.read().decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise exceptions.ParseError(_("The body is not text in %(encoding)s.") % {"encoding": encoding}) from exc
        try:
            document = json.loads(
                text, parse_constant=json.strict_constant if self.strict else None, parse_float=_finite_float
            )
        except RecursionError:
            raise NestingTooDeep(_("The JSON body nests more than %(most)s levels.") % {"most": MAX_DEPTH}) from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {escaped(str(exc))}") from None
        if depth_of(document, MAX_DEPTH) > MAX_DEPTH:
            raise NestingTooDeep(_("The JSON body nests more than %(most)s levels.") % {"most": MAX_DEPTH})
        refuse_unstorable(document)
        return document


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing fields and file names that hold unstorable text."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Any = None
    ) -> "parsers.DataAndFiles[Any, Any]":
        parsed = super().parse(stream, media_type, parser_context)
        fields: dict[str, list[str]] = {name: parsed.data.getlist(name) for name in parsed.data}
        for name in parsed.files:
            fields.setdefault(name, []).extend(file.name or "" for file in parsed.files.getlist(name))
        refuse_unstorable({name: values[0] if len(values) == 1 else values for name, values in fields.items()})
        return parsed
