"""A published report as files, CSV and XLSX, each signed with the platform's report key.

The signature is Ed25519 over the file's exact bytes, delivered apart from the file (64 bytes).
Anyone holding the public key verifies a file with ``python -m memberkit verify`` or with
OpenSSL (docs/reports.md).
"""

import csv
import hashlib
import io
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from openpyxl import Workbook

from sharing.choices import ReportFormat

SUPPRESSED = "x"  # how a suppressed cell reads in a spreadsheet, as statistics offices print it
CSV_HEADER = ["starts_on", "ends_on", "table", "row", "column", "value", "suppressed"]


def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(settings.REPORT_SIGNING_KEY))


def sign(content: bytes) -> bytes:
    return signing_key().sign(content)


def render(figures: dict[str, Any], file_format: str) -> bytes:
    return render_csv(figures) if file_format == ReportFormat.CSV else render_xlsx(figures)


def render_csv(figures: dict[str, Any]) -> bytes:
    """One line per cell: the period, the table, the row and column codes, the value, and whether
    it was suppressed (its value is then empty; an empty value that is not suppressed is a rate
    without a denominator)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    period = figures["period"]
    for table, row, column, value, hidden in _cells(figures):
        writer.writerow(
            [period["starts_on"], period["ends_on"], table, row, column, "" if value is None else value, hidden]
        )
    return out.getvalue().encode()


def _cells(figures: dict[str, Any]) -> Iterator[tuple[str, str, str, Any, str]]:
    for table in figures["tables"]:
        for row, values, hidden in zip(table["rows"], table["cells"], table["suppressed"], strict=True):
            for column, value, suppressed in zip(table["columns"], values, hidden, strict=True):
                yield table["name"], row, column, value, "true" if suppressed else "false"


def render_xlsx(figures: dict[str, Any]) -> bytes:
    """A sheet about the report, one sheet per table (a suppressed cell reads ``x``), and the institutions.

    Written in openpyxl's write-only mode, which streams rows instead of building every cell.
    """
    book = Workbook(write_only=True)
    about = book.create_sheet("report")
    period = figures["period"]
    about.append(["starts_on", period["starts_on"]])
    about.append(["ends_on", period["ends_on"]])
    about.append(["suppressed cells read", SUPPRESSED])
    for note in figures["notes"]:
        about.append(["note", note])
    for table in figures["tables"]:
        sheet = book.create_sheet(table["name"][:31])
        sheet.append(["", *table["columns"]])
        for row, values, hidden in zip(table["rows"], table["cells"], table["suppressed"], strict=True):
            sheet.append(
                [row, *(SUPPRESSED if suppressed else value for value, suppressed in zip(values, hidden, strict=True))]
            )
    institutions = book.create_sheet("institutions")
    institutions.append(["code", "name_zh", "name_en", "sector"])
    for institution in figures["institutions"]:
        institutions.append([institution[column] for column in ("code", "name_zh", "name_en", "sector")])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
