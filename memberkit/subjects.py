"""The rows of a tokenized file of subjects, read and checked as the platform would check them.

``query`` streams a file of borrowers (CSV or JSON Lines: a correlation id, an identifier type
and a member token a row, and up to four more of the borrower's identifiers in ``id_type_2`` and
``token_2`` ... ``id_type_5`` and ``token_5``) and sends them in batches. Rows the platform would
refuse (no correlation id, a token that is not one, an unknown identifier type, two identifiers
of one type) are refused here first and reported by row number, without their values: one bad
row must not cost a whole batch a 400.
"""

import csv
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Protocol, TextIO

from memberkit.labels import REASON, holds_identifier
from memberkit.text import has_control
from memberkit.vocabulary import CORRELATION_MAX, FILE_SUFFIXES, ID_TYPES, NUMBERED_COLUMNS

MEMBER_TOKEN = re.compile(r"[0-9a-f]{64}")
JSONL_SUFFIXES = tuple(suffix for suffix, file_format in FILE_SUFFIXES.items() if file_format == "jsonl")


class Columns(Protocol):
    """Where a row's fields are: the command's options name the columns, or one type for every row."""

    @property
    def correlation_column(self) -> str: ...

    @property
    def token_column(self) -> str: ...

    @property
    def id_type(self) -> str | None: ...


@dataclass(frozen=True)
class Subject:
    """One row that may be sent. Tokens are left out of ``repr``: they must reach no log or traceback."""

    row: int
    correlation_id: str
    id_type: str
    token: str = field(repr=False)
    # The borrower's other identifiers, (type, token) as numbered in the file: id_type_2/token_2 ...
    more: tuple[tuple[str, str, str, str], ...] = field(default=(), repr=False)

    def fields(self) -> dict[str, str]:
        """The subject as the platform's flat form names it: id_type and token, then id_type_2 and token_2 ..."""
        fields = {"correlation_id": self.correlation_id, "id_type": self.id_type, "token": self.token}
        for type_column, token_column, id_type, token in self.more:
            fields[type_column] = id_type
            fields[token_column] = token
        return fields


Refusal = tuple[int, str, str]  # row, field, reason: never the value


def check_row(number: int, values: Mapping[str, object], options: Columns) -> Subject | list[Refusal]:
    """The subject a row names, or why it cannot be sent, one refusal per field, as the platform would say.

    ``values`` holds the row's fields by column name; a missing one reads as empty.
    """
    refusals: list[Refusal] = []

    def text(column: str) -> str:
        value = values.get(column)
        if value is None or value == "":
            return ""
        # JSON Lines may hold a number where text is meant; the platform reads a number as its digits.
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return str(value).strip()
        refusals.append((number, column, "not_text"))
        return ""

    correlation_id = text(options.correlation_column)
    if not correlation_id:
        refusals.append((number, options.correlation_column, "required"))
    elif len(correlation_id) > CORRELATION_MAX:
        refusals.append((number, options.correlation_column, "too_long"))
    elif has_control(correlation_id):  # a reference, not text: every result is one line
        refusals.append((number, options.correlation_column, "bad_characters"))
    elif holds_identifier(correlation_id):
        refusals.append((number, options.correlation_column, REASON))

    own_type = text("id_type")
    if options.id_type is not None:
        if own_type and own_type != options.id_type:
            refusals.append((number, "id_type", "conflicting_id_type"))
        id_type = options.id_type
    elif not own_type:
        refusals.append((number, "id_type", "required"))
        id_type = ""
    elif own_type not in ID_TYPES:
        refusals.append((number, "id_type", "unknown_id_type"))
        id_type = ""
    else:
        id_type = own_type

    token = text(options.token_column)
    if not token:
        refusals.append((number, options.token_column, "required"))
    elif not MEMBER_TOKEN.fullmatch(token):
        refusals.append((number, options.token_column, "bad_token"))

    more = []
    seen = {id_type}
    for type_column, token_column in NUMBERED_COLUMNS:
        other_type, other_token = text(type_column), text(token_column)
        if not other_type and not other_token:
            continue  # a pair the row does not use
        if not other_type:
            refusals.append((number, type_column, "required"))
        elif other_type not in ID_TYPES:
            refusals.append((number, type_column, "unknown_id_type"))
        elif other_type in seen:
            refusals.append((number, type_column, "duplicate_id_type"))
        seen.add(other_type)
        if not other_token:
            refusals.append((number, token_column, "required"))
        elif not MEMBER_TOKEN.fullmatch(other_token):
            refusals.append((number, token_column, "bad_token"))
        more.append((type_column, token_column, other_type, other_token))

    if refusals:
        return refusals
    return Subject(number, correlation_id, id_type, token, tuple(more))


def read_rows(path: Path, text: TextIO, options: Columns) -> Iterator[tuple[int, Mapping[str, object]]]:
    """Each data row by number (the header and blank lines not counted, as ``hash`` counts), as a mapping.

    Only the columns ``check_row`` reads are kept. A CSV file lacking one of
    them is refused before its first row; a JSON line that is not an object
    comes out empty, so that it is refused as a row rather than ending the run.
    """
    wanted = [options.correlation_column, options.token_column, "id_type", *chain.from_iterable(NUMBERED_COLUMNS)]
    if path.suffix.lower() in JSONL_SUFFIXES:
        yield from _json_rows(path, text, wanted)
        return
    reader = csv.reader(text)
    try:
        header = next(reader, [])
        required = wanted[:3] if options.id_type is None else wanted[:2]
        missing = [column for column in required if column not in header]
        if missing:
            advice = " (or give every row one type with --id-type)" if "id_type" in missing else ""
            raise ValueError(f"{path.name} has no column {', '.join(missing)}{advice}")
        places = {column: header.index(column) for column in wanted if column in header}
        number = 0
        for row in reader:
            if not row:
                continue
            number += 1
            yield number, {column: row[place] for column, place in places.items() if place < len(row)}
    except csv.Error as error:
        raise ValueError(f"{path.name}, line {reader.line_num}: not well-formed CSV ({error})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path.name} is not UTF-8 text after line {reader.line_num}") from None


def _json_rows(path: Path, text: TextIO, wanted: Sequence[str]) -> Iterator[tuple[int, Mapping[str, object]]]:
    number = line_number = 0
    try:
        for line_number, line in enumerate(text, start=1):  # noqa: B007 - the except clause reads it
            if not line.strip():
                continue
            number += 1
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            if not isinstance(row, dict):
                yield number, {}
                continue
            yield number, {column: row[column] for column in wanted if column in row}
    except UnicodeDecodeError:
        raise ValueError(f"{path.name} is not UTF-8 text after line {line_number}") from None
