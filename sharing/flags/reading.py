"""Reading member files at C speed: UTF-8 CSV with a header line, or JSON Lines.

Flag uploads and portfolio inspections read their files the same way: the whole
file is surveyed once (UTF-8, well-formed, within the row limit) before anything
is stored, then read record by record, each with the line on which it starts.
A ``Layout`` names the columns a kind of file has.
"""

import codecs
import csv
import io
import json
import re
from collections.abc import Generator, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import IO, Any, NamedTuple, TextIO

from memberkit.text import has_control
from sharing.choices import FileFormat
from sharing.messages import FieldError, english

HEADER_MAX_BYTES = 64 * 1024
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # how the "surrogateescape" error handler writes a bad byte


@dataclass(frozen=True)
class Layout:
    """The columns of a kind of file: those it must have, and those it may have."""

    noun: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def columns(self) -> frozenset[str]:
        return frozenset(self.required + self.optional)


class FileRefused(ValueError):
    """The file as a whole cannot be processed; nothing of it is stored."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def header_errors(columns: list[str], layout: Layout) -> list[FieldError]:
    """Missing and unknown columns of a CSV header, each as an error of that column.

    A column is named as the file names it, except that a name holding a control character,
    a NUL or a lone surrogate is shown escaped (``\\x00``), so that no error report, log or
    answer carries what cannot be stored or shown.
    """
    known = layout.columns
    errors = [
        FieldError(shown(name), "unknown_column", english("unknown_column", noun=layout.noun))
        for name in columns
        if name not in known
    ]
    errors += [
        FieldError(name, "missing_column", english("missing_column")) for name in layout.required if name not in columns
    ]
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            errors.append(FieldError(shown(name), "duplicate_column", english("duplicate_column")))
        seen.add(name)
    return errors


def shown(name: str) -> str:
    """A column or field name as an error may show it: escaped if it holds a control character, and short."""
    if has_control(name):
        name = name.encode("unicode_escape").decode("ascii")
    return name if len(name) <= 64 else name[:63] + "…"


def read_header(file: IO[bytes]) -> list[str]:  # the API's check before a file is even stored
    """The columns named by a CSV file's first record (a byte-order mark is allowed).

    Lines may end in LF, CRLF or a lone CR (Excel's "CSV (Macintosh)"), as the worker reads them.
    A header must end within ``HEADER_MAX_BYTES``.
    """
    head = file.read(HEADER_MAX_BYTES + 1)
    whole = len(head) <= HEADER_MAX_BYTES
    # Incremental: a character cut in two at the end of ``head`` is not an encoding error. Bytes that are
    # not UTF-8 become lone surrogates, which only matter if the header holds them: later lines are the
    # worker's to judge.
    text = codecs.getincrementaldecoder("utf-8-sig")("surrogateescape").decode(head, final=whole)
    lines = io.StringIO(text, newline="")  # newline="": any line ending, as the csv module wants
    reader = csv.reader(lines, strict=True)
    try:
        columns = next(reader, [])
    except csv.Error as error:
        if not whole:
            _whole_header(lines, text)
        raise FileRefused("bad_csv", english("bad_csv", line=1, error=error)) from None
    if not whole:
        _whole_header(lines, text)
    if not columns:
        raise FileRefused("empty_file", english("empty_file"))
    if any(map(_ESCAPED_BYTE.search, columns)):  # a byte the decoding above could not read as UTF-8
        raise FileRefused("not_utf8", english("not_utf8", line=1))
    return [name.strip() for name in columns]


def _whole_header(lines: io.StringIO, text: str) -> None:
    """Refuse a header that did not end within the text read: the rest of it was never checked."""
    if lines.tell() >= len(text) and not text.endswith(("\n", "\r")):
        raise FileRefused("header_too_long", english("header_too_long", kib=HEADER_MAX_BYTES // 1024))


class Record(NamedTuple):
    line: int  # the line on which the record starts
    item: dict[str, Any] | None  # None when ``error`` says why the record could not be read
    error: FieldError | None


def _record(values: tuple[int, dict[str, Any], None]) -> Record:
    return tuple.__new__(Record, values)  # NamedTuple's own __new__ costs a microsecond a row


@contextmanager
def decoded(file: IO[bytes]) -> Iterator[TextIO]:
    """The file as UTF-8 text from its start (a byte-order mark is skipped), read at C speed."""
    file.seek(0)
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        yield text
    except UnicodeDecodeError:
        raise FileRefused("not_utf8", english("not_utf8", line=_first_bad_line(file))) from None
    finally:
        with suppress(ValueError):  # the file was closed under an abandoned reader: nothing to keep open
            text.detach()  # the caller's file stays open


def _first_bad_line(file: IO[bytes]) -> int:
    file.seek(0)
    for number, raw in enumerate(file, start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return 0


HEADER_ERRORS_LISTED = 10


def _csv_rows(text: TextIO, layout: Layout) -> tuple[Any, list[str]]:
    """A CSV reader past the header, and the header's columns, which must be the layout's."""
    reader = csv.reader(text, strict=True)
    try:
        columns = [name.strip() for name in next(reader, [])]
    except csv.Error as error:
        raise FileRefused("bad_csv", english("bad_csv", line=reader.line_num, error=error)) from None
    if not columns:
        raise FileRefused("empty_file", english("empty_file"))
    if errors := header_errors(columns, layout):
        listed = "; ".join(f"{e.field}: {e.message}" for e in errors[:HEADER_ERRORS_LISTED])
        more = len(errors) - HEADER_ERRORS_LISTED
        raise FileRefused(errors[0].code, listed + (f"; and {more} more." if more > 0 else ""))
    return reader, columns


def records(file: IO[bytes], file_format: str, layout: Layout, skip: int = 0) -> Generator[Record, None, None]:
    """Every record of the file after the first ``skip``, each with the line on which it starts."""
    with decoded(file) as text:
        if file_format == FileFormat.JSONL:
            yield from _jsonl_records(text, skip)
            return
        reader, columns = _csv_rows(text, layout)
        width = len(columns)
        count = 0
        start = reader.line_num + 1
        try:
            for values in reader:
                if not values:  # a blank line
                    start = reader.line_num + 1
                    continue
                count += 1
                if count > skip:
                    if len(values) == width:  # checked: zip's own check would cost every row again
                        yield _record((start, dict(zip(columns, values, strict=False)), None))
                    else:
                        message = english("bad_row", fields=len(values), width=width)
                        yield Record(start, None, FieldError("", "bad_row", message))
                start = reader.line_num + 1
        except csv.Error as error:
            raise FileRefused("bad_csv", english("bad_csv", line=reader.line_num, error=error)) from None


_BAD_JSON = FieldError("", "bad_json", english("bad_json"))
_NOT_AN_OBJECT = FieldError("", "bad_json", english("bad_json", "object"))
_TOO_DEEP = FieldError("", "too_deep", english("too_deep"))


def _jsonl_records(text: TextIO, skip: int) -> Iterator[Record]:
    count = 0
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        count += 1
        if count <= skip:
            continue
        try:
            item = json.loads(line)
        except ValueError:
            yield Record(number, None, _BAD_JSON)
            continue
        except RecursionError:  # the C parser's own bound on nesting, far beyond any flag's
            yield Record(number, None, _TOO_DEEP)
            continue
        if isinstance(item, dict):
            yield Record(number, item, None)
        else:
            yield Record(number, None, _NOT_AN_OBJECT)


def survey(file: IO[bytes], file_format: str, layout: Layout, max_rows: int) -> int:
    """Read the whole file once before storing anything: how many records it holds.

    Refuses a file that is not UTF-8, not well-formed CSV, empty or over the row limit.
    """
    with decoded(file) as text:
        # Counted by map and sum, which run in C: no Python code per row.
        if file_format == FileFormat.JSONL:
            total = sum(map(bool, map(str.strip, text)))
        else:
            reader, _ = _csv_rows(text, layout)
            try:
                total = sum(map(bool, reader))
            except csv.Error as error:
                raise FileRefused("bad_csv", english("bad_csv", line=reader.line_num, error=error)) from None
    if total > max_rows:
        raise FileRefused("too_many_rows", english("too_many_rows", most=f"{max_rows:,}"))
    if total == 0:
        raise FileRefused("empty_file", english("empty_file", "rows"))
    return total
