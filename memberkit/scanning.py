"""Refusing, before anything is sent, labels that carry a borrower's identifier.

The platform refuses a reference, a correlation id, a portfolio's or a file's name that is, or
holds, a resident identity number, a mobile number or an individual business's credit code
(``memberkit.labels``, docs/identifiers.md section 7). The client asks the same question first,
so that such a label never leaves the member's machine: ``upload`` and ``inspect`` read the
whole file before sending it and stop if any row's label (a reference, a loan's consent
reference, a correlation id) holds an identifier; ``query`` refuses
such a row and sends the others. The refusal names rows, never their values.
"""

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from memberkit.labels import REASON, holds_identifier

ROWS_NAMED = 10  # rows listed in the message; the count says how many in all
ADVICE = "labels must be your institution's own record numbers, not borrowers' identifiers"


def check_label(what: str, value: str | None) -> None:
    """Refuse a label given on the command line (a portfolio, a consent reference) or a file's name,
    without repeating it."""
    if value and holds_identifier(value):
        raise ValueError(f"{what} is, or holds, a resident identity number, a mobile number or a credit code: {ADVICE}")


def label_of(value: object) -> str | None:
    """A label as the platform reads it: text, or a JSON number read as its digits."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def rows_with_identifiers(path: Path, file_format: str, column: str) -> list[int]:
    """The data rows (counted as the platform counts them) whose ``column`` holds an identifier."""
    return label_rows(path, file_format, (column,))[column]


def label_rows(path: Path, file_format: str, columns: Sequence[str]) -> dict[str, list[int]]:
    """For each of ``columns``, the data rows (counted as the platform counts them) where it holds an identifier.

    Reads the whole file once, in constant memory. A file the platform cannot read (no such
    column, not UTF-8, not CSV) gives no rows here: the platform refuses it, and no label
    of it is stored.
    """
    found: dict[str, list[int]] = {column: [] for column in columns}
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            if file_format == "jsonl":
                for number, line in enumerate(text, start=1):
                    if line.strip():
                        _check_json(number, line, found)
            else:
                reader = csv.reader(text)
                header = next(reader, [])
                places = [(header.index(column), rows) for column, rows in found.items() if column in header]
                if not places:
                    return found
                start = reader.line_num + 1  # rows are numbered by the line they start on, as the platform does
                for row in reader:
                    for place, rows in places:
                        if place < len(row) and holds_identifier(row[place]):
                            rows.append(start)
                    start = reader.line_num + 1
        except (UnicodeDecodeError, csv.Error):
            pass
    return found


def _check_json(number: int, line: str, found: dict[str, list[int]]) -> None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return
    if isinstance(record, dict):
        for column, rows in found.items():
            label = label_of(record.get(column))
            if label is not None and holds_identifier(label):
                rows.append(number)


def refuse_file(path: Path, file_format: str, *columns: str) -> None:
    """Stop, naming the rows, if any row's label in ``columns`` (or the file's name) holds an identifier."""
    check_label("the file's name", path.name)
    problems = []
    for column, found in label_rows(path, file_format, columns).items():
        if found:
            named = ", ".join(str(row) for row in found[:ROWS_NAMED]) + (", ..." if len(found) > ROWS_NAMED else "")
            problems.append(
                f"{len(found):,} rows have a {column} that is, or holds, a resident identity number, "
                f"a mobile number or a credit code (rows {named}; {REASON})"
            )
    if problems:
        raise ValueError(f"{path.name}: {'; '.join(problems)}: {ADVICE}. Nothing was sent.")
