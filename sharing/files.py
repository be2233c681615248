"""Reading member files at C speed: UTF-8 CSV with a header line, or JSON Lines.

Flag uploads and portfolio inspections read their files the same way: the whole
file is surveyed once (UTF-8, well-formed, within the row limit) before anything
is stored, then read record by record, each with the line on which it starts.
A ``Layout`` names the columns a kind of file has.
"""

import csv
import io
import json
from collections.abc import Generator, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import IO, Any, NamedTuple, TextIO

from sharing.choices import FileFormat
from sharing.rows import FieldError


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
    """Missing and unknown columns of a CSV header, each as an error of that column."""
    known = layout.columns
    errors = [
        FieldError(name, "unknown_column", f"Not a column of a {layout.noun}.") for name in columns if name not in known
    ]
    errors += [
        FieldError(name, "missing_column", "The column is required.") for name in layout.required if name not in columns
    ]
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            errors.append(FieldError(name, "duplicate_column", "The column appears twice."))
        seen.add(name)
    return errors


def read_header(file: IO[bytes]) -> list[str]:  # the API's check before a file is even stored
    """The columns named by a CSV file's first line (a byte-order mark is allowed)."""
    first = file.readline(64 * 1024)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused("not_utf8", "Line 1 is not UTF-8 text; save the file as UTF-8.") from None
    columns = next(csv.reader([text]), [])
    if not columns:
        raise FileRefused("empty_file", "The file has no header line.")
    return [name.strip() for name in columns]


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
        raise FileRefused(
            "not_utf8", f"Line {_first_bad_line(file)} is not UTF-8 text; save the file as UTF-8."
        ) from None
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


def _csv_rows(text: TextIO, layout: Layout) -> tuple[Any, list[str]]:
    """A CSV reader past the header, and the header's columns, which must be the layout's."""
    reader = csv.reader(text, strict=True)
    columns = [name.strip() for name in next(reader, [])]
    if not columns:
        raise FileRefused("empty_file", "The file has no header line.")
    if errors := header_errors(columns, layout):
        raise FileRefused(errors[0].code, "; ".join(f"{e.field}: {e.message}" for e in errors))
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
                        message = f"The row has {len(values)} fields; the header has {width}."
                        yield Record(start, None, FieldError("", "bad_row", message))
                start = reader.line_num + 1
        except csv.Error as error:
            raise FileRefused("bad_csv", f"Line {reader.line_num} cannot be read as CSV: {error}.") from None


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
            yield Record(number, None, FieldError("", "bad_json", "The line is not valid JSON."))
            continue
        if isinstance(item, dict):
            yield Record(number, item, None)
        else:
            yield Record(number, None, FieldError("", "bad_json", "The line is not a JSON object."))


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
                raise FileRefused("bad_csv", f"Line {reader.line_num} cannot be read as CSV: {error}.") from None
    if total > max_rows:
        raise FileRefused("too_many_rows", f"A file holds at most {max_rows:,} rows.")
    if total == 0:
        raise FileRefused("empty_file", "The file holds no rows.")
    return total
