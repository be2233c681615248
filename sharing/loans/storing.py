"""Storing checked loans: an upsert by the member's reference, the loan's tokens replaced with it.

A loan's identifiers are its ``LoanToken`` rows. Sending a reference again updates its loan
(closing it, say) and replaces its whole token set with the one just sent: the member's latest
word on who the borrower is. Two paths do this with the same result. ``upsert_orm`` goes through
the ORM and runs on every database: JSON batches (1,000 loans at most) and file chunks on SQLite
use it. ``copy_and_merge`` is PostgreSQL's set-based path for file chunks, as flags have
(``sharing.flags.storing``): COPY into a temporary staging table, one ``INSERT ... ON CONFLICT DO
UPDATE``, then the tokens of the loans it wrote deleted by id and the new ones COPYed in.
Every stored batch or chunk stamps ``ContributedLoans``: the multi-lender figures need it.
"""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from django.db import connection
from django.utils import timezone

from accounts.models import Institution
from sharing.flags.identifiers import Identifiers
from sharing.flags.storing import Stored, sources
from sharing.keys.tokens import peppers
from sharing.loans.checking import CheckedLoan
from sharing.models import ContributedLoans, Loan, LoanToken, Upload

# What an upsert replaces; never created_at. The tokens are replaced beside it.
REPLACED = (
    "product",
    "opened_on",
    "closed_on",
    "amount_band",
    "consent_reference",
    "expires_on",
    "source_upload",
    "source_row",
    "updated_at",
)
ORM_BATCH = 500


class Staged(NamedTuple):
    """A loan ready to be written, with the row it came from. The upload machinery reads the row and the
    reference at [0] and [1], the identifiers last (sharing.flags.uploads.StagedRow); the fields before
    the identifiers are the staging table's columns, in its order."""

    row: int | None
    reference: str
    product: str
    opened_on: date
    closed_on: date | None
    amount_band: str
    consent_reference: str
    expires_on: date | None
    identifiers: Identifiers


_COPIED = Staged._fields[:-1]
# A staged loan is its checked loan with the row in front.
assert Staged._fields == ("row", *CheckedLoan._fields)


def stage(loan: CheckedLoan, row: int | None = None) -> Staged:
    """A checked loan as it is written, with the row it came from (None for a batch's item)."""
    return Staged(row, *loan)


def store_loans(institution: Institution, loans: Sequence[CheckedLoan]) -> Stored:
    """Upsert a batch of checked loans with distinct references (the REST path)."""
    return upsert_orm(institution, [stage(loan) for loan in loans])


def upsert_orm(
    institution: Institution, staged: Sequence[Staged], upload: Upload | None = None, now: datetime | None = None
) -> Stored:
    """Upsert staged loans and replace their tokens through the ORM, counting what was created,
    updated and superseded (an earlier row of the same upload)."""
    now = now or timezone.now()
    references = [loan.reference for loan in staged]
    before = sources(Loan.objects.filter(institution=institution), references)
    stored = Stored()
    objects = []
    for loan in staged:
        objects.append(
            Loan(
                institution=institution,
                reference=loan.reference,
                product=loan.product,
                opened_on=loan.opened_on,
                closed_on=loan.closed_on,
                amount_band=loan.amount_band,
                consent_reference=loan.consent_reference,
                expires_on=loan.expires_on,
                source_upload=upload,
                source_row=loan.row,
                created_at=now,
                updated_at=now,
            )
        )
        stored.count(before.get(loan.reference), upload, loan.row)
    Loan.objects.bulk_create(
        objects,
        batch_size=ORM_BATCH,
        update_conflicts=True,
        unique_fields=["institution", "reference"],
        update_fields=list(REPLACED),
    )
    ids: dict[str, int] = {}
    for start in range(0, len(references), ORM_BATCH):
        written = Loan.objects.filter(institution=institution, reference__in=references[start : start + ORM_BATCH])
        ids.update((str(reference), pk) for reference, pk in written.values_list("reference", "pk"))
    # The tokens of every loan just written, new ones included: a batch racing this one with a reference new to
    # both may have written the loan first (the upsert waited for it), and its tokens are replaced too.
    written_ids = list(ids.values())
    for start in range(0, len(written_ids), ORM_BATCH):
        LoanToken.objects.filter(loan_id__in=written_ids[start : start + ORM_BATCH]).delete()
    version = peppers().version
    LoanToken.objects.bulk_create(
        [
            LoanToken(loan_id=ids[loan.reference], id_type=id_type, token=token, pepper_version=version)
            for loan in staged
            for id_type, token in loan.identifiers
        ],
        batch_size=ORM_BATCH,
    )
    note_contribution(institution, now)
    return stored


def note_contribution(institution: Institution, now: datetime) -> None:
    """Stamp the institution's latest loan contribution: the multi-lender figures' reciprocity reads it."""
    ContributedLoans.objects.bulk_create(
        [ContributedLoans(institution=institution, last_contributed_at=now)],
        update_conflicts=True,
        unique_fields=["institution"],
        update_fields=["last_contributed_at"],
    )


STAGING = "sharing_loan_staging"
STAGED_TYPES = ["int4", "varchar", "varchar", "date", "date", "varchar", "varchar", "date"]
TOKEN_TYPES = ["int8", "varchar", "bytea", "int2"]

# Built once from constants; every value travels as a parameter. As for flags (sharing.flags.storing,
# EXISTING), the loans that exist already are found by one probe of the unique (institution_id,
# reference) index per staged row, in a LATERAL subquery that OFFSET 0 keeps the planner from turning
# into a join whose plan would depend on statistics: how many exist, and this upload's own earlier
# rows, which a later row supersedes.
EXISTING = (
    "SELECT count(*),"  # noqa: S608
    " coalesce(array_agg(l.source_row ORDER BY s.row) FILTER (WHERE l.source_upload_id = %(upload)s), '{}'),"
    " coalesce(array_agg(s.row ORDER BY s.row) FILTER (WHERE l.source_upload_id = %(upload)s), '{}')"
    " FROM " + STAGING + " s CROSS JOIN LATERAL (SELECT id, source_upload_id, source_row FROM sharing_loan"
    " WHERE institution_id = %(institution)s AND reference = s.reference OFFSET 0) l"
)
MERGE = (
    "INSERT INTO sharing_loan (institution_id, reference, product, opened_on, closed_on, amount_band,"  # noqa: S608
    " consent_reference, expires_on, source_upload_id, source_row, created_at, updated_at)"
    " SELECT %(institution)s, reference, product, opened_on, closed_on, amount_band, consent_reference,"
    " expires_on, %(upload)s, row, %(now)s, %(now)s FROM "
    + STAGING
    + " ON CONFLICT (institution_id, reference) DO UPDATE SET "
    + ", ".join(
        f"{column} = EXCLUDED.{column}"
        for column in (Loan._meta.get_field(name).column for name in REPLACED)  # type: ignore[union-attr]
    )
    + " RETURNING reference, id"
)
# The tokens of the loans the merge wrote, found by the unique (loan_id, id_type) index, whose first column
# is the loan: = ANY of an array probes it once per id, whatever the statistics. Every loan written, new
# ones too: a chunk racing this one with a reference new to both may have written the loan first (the
# merge waited for it and then updated it), and its tokens are replaced with this chunk's.
DELETE_TOKENS = "DELETE FROM sharing_loantoken WHERE loan_id = ANY(%s)"


def copy_and_merge(institution: Institution, staged: Sequence[Staged], upload: Upload, now: datetime) -> Stored:
    """PostgreSQL: COPY a chunk into a staging table, merge it into the loans in one statement, and
    replace the tokens of the loans it wrote. Runs inside the caller's transaction; the staging
    table is private to the connection."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} ("
            "row integer, reference varchar(64), product varchar(16), opened_on date, closed_on date,"
            " amount_band varchar(16), consent_reference varchar(128), expires_on date) ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {STAGING}")  # empty even when the caller's transaction spans several chunks
        with cursor.copy(f"COPY {STAGING} ({', '.join(_COPIED)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(STAGED_TYPES)
            write = copy.write_row
            for loan in staged:
                write(loan[:-1])
        cursor.execute(EXISTING, {"upload": upload.pk, "institution": institution.pk})
        existing, earlier_rows, later_rows = cursor.fetchone()
        superseded = list(zip(earlier_rows, later_rows, strict=True))
        parameters: dict[str, Any] = {"institution": institution.pk, "upload": upload.pk, "now": now}
        cursor.execute(MERGE, parameters)
        ids = dict(cursor.fetchall())
        cursor.execute(DELETE_TOKENS, [list(ids.values())])
        version = peppers().version
        with cursor.copy(
            "COPY sharing_loantoken (loan_id, id_type, token, pepper_version) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(TOKEN_TYPES)
            write = copy.write_row
            for loan in staged:
                loan_id = ids[loan.reference]
                for id_type, token in loan.identifiers:
                    write((loan_id, id_type, token, version))
    note_contribution(institution, now)
    return Stored(created=len(staged) - existing, updated=existing - len(superseded), superseded=superseded)
