"""Storing checked flags: an upsert by the member's reference, with sealed details and the flag's tokens.

A checked flag is first *staged*: its details sealed under the institution's
data key and its status settled, as one tuple in the column order of the COPY.
Two paths then upsert staged flags with the same result. ``upsert_orm`` goes
through the ORM and runs on every database: JSON batches (1,000 flags at most)
and file chunks on SQLite use it. ``copy_and_merge`` is PostgreSQL's set-based
path for file chunks: COPY into a temporary staging table, then one
``INSERT ... ON CONFLICT DO UPDATE``.

A flag's identifiers are its ``FlagToken`` rows. Sending a reference again replaces the
flag's whole token set with the one just sent (the member's latest word on who the
borrower is): the tokens of the flags it updated are deleted, then every staged flag's
tokens are written.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Institution
from sharing.choices import FlagStatus
from sharing.flags.checking import CheckedFlag
from sharing.flags.identifiers import Identifiers
from sharing.keys.datakeys import data_key_for, details_context
from sharing.keys.envelope import Sealer
from sharing.keys.tokens import peppers
from sharing.models import ContributedCategory, DataKey, Flag, FlagToken, Upload

# What an upsert replaces. Never created_at, and never the disputed marker, which belongs to the
# dispute process, not to the contributor.
REPLACED = (
    "category",
    "event_date",
    "end_date",
    "amount_band",
    "status",
    "notice_date",
    "notice_channel",
    "details",
    "details_key",
    "details_destroyed_at",
    "withdrawal_reason",
    "expires_on",
    "source_upload",
    "source_row",
    "updated_at",
)
ORM_BATCH = 500
_RESOLVED, _ACTIVE = FlagStatus.RESOLVED.value, FlagStatus.ACTIVE.value
_new = tuple.__new__


class Staged(NamedTuple):
    """A flag ready to be written: its details sealed. The field order is the staging table's, the
    identifiers being written as two arrays (their types, their tokens)."""

    row: int | None
    reference: str
    category: str
    event_date: date
    end_date: date | None
    amount_band: str
    status: str
    notice_date: date | None
    notice_channel: str
    details: bytes | None
    expires_on: date
    identifiers: Identifiers


# A staged flag is its checked flag with the row in front and the status after the amount band (at 5); the
# upload machinery reads the row at 0, the reference at 1 and the identifiers last. Stager.stage takes the
# reference (0), end date (3) and details (7) of a checked flag by position.
assert Staged._fields == ("row", *CheckedFlag._fields[:5], "status", *CheckedFlag._fields[5:])
assert (CheckedFlag._fields[0], CheckedFlag._fields[3], CheckedFlag._fields[7]) == ("reference", "end_date", "details")
assert Staged._fields[-1] == "identifiers"


# Where a stored flag or loan came from: its upload and row, None for each when it was sent as JSON.
Source = tuple[int | None, int | None]


@dataclass
class Stored:
    """What an upsert did: flags created and updated, and earlier rows of the same upload it replaced."""

    created: int = 0
    updated: int = 0
    # (earlier row, later row): a reference that an earlier chunk of the same upload had already written.
    superseded: list[tuple[int, int]] = field(default_factory=list)

    def count(self, previous: Source | None, upload: Upload | None, row: int | None) -> None:
        """Count one staged item by where its reference's stored row came from (``previous``, None if new):
        created, superseded (an earlier row of this same upload) or updated."""
        if previous is None:
            self.created += 1
        elif upload is not None and previous[0] == upload.pk and previous[1] is not None and row is not None:
            self.superseded.append((previous[1], row))
        else:
            self.updated += 1


def sources(rows: QuerySet[Any], references: Sequence[str]) -> dict[str, Source]:
    """Where each of ``references`` that ``rows`` hold already came from, looked up ORM_BATCH at a time."""
    found: dict[str, Source] = {}
    for start in range(0, len(references), ORM_BATCH):
        existing = rows.filter(reference__in=references[start : start + ORM_BATCH])
        found.update(
            (str(reference), (upload_id, row))
            for reference, upload_id, row in existing.values_list("reference", "source_upload_id", "source_row")
        )
    return found


class Stager:
    """Seals and settles checked flags of one institution; the hot path of a file upload."""

    def __init__(self, institution_id: int, key: bytes) -> None:
        self._seal = Sealer(key).seal
        self._prefix = details_context(institution_id, "")

    def stage(self, flag: CheckedFlag, row: int | None = None) -> Staged:
        # Sliced by position: a NamedTuple's attribute access and its own __new__ cost every row.
        details = flag[7]
        if details is not None:
            details = self._seal(details, self._prefix + flag[0].encode())
        status = _RESOLVED if flag[3] else _ACTIVE
        return _new(Staged, (row, *flag[:5], status, *flag[5:7], details, *flag[8:]))


def store_flags(institution: Institution, flags: Sequence[CheckedFlag]) -> Stored:
    """Upsert a batch of checked flags with distinct references (the REST path)."""
    key_record, key = data_key_for(institution)
    stager = Stager(institution.pk, key)
    return upsert_orm(institution, [stager.stage(flag) for flag in flags], key_record)


def upsert_orm(
    institution: Institution, staged: Sequence[Staged], key_record: DataKey, upload: Upload | None = None
) -> Stored:
    """Upsert staged flags and replace their tokens through the ORM, counting what was created, updated and
    superseded (an earlier row of the same upload)."""
    now = timezone.now()
    before = sources(Flag.objects.filter(institution=institution), [flag.reference for flag in staged])
    stored = Stored()
    objects = []
    for flag in staged:
        objects.append(
            Flag(
                institution=institution,
                reference=flag.reference,
                category=flag.category,
                event_date=flag.event_date,
                end_date=flag.end_date,
                amount_band=flag.amount_band,
                status=flag.status,
                notice_date=flag.notice_date,
                notice_channel=flag.notice_channel,
                details=flag.details,
                details_key=key_record if flag.details is not None else None,
                details_destroyed_at=None,
                withdrawal_reason="",
                expires_on=flag.expires_on,
                source_upload=upload,
                source_row=flag.row,
                created_at=now,
                updated_at=now,
            )
        )
        stored.count(before.get(flag.reference), upload, flag.row)
    version = peppers().version
    with transaction.atomic():
        # Every database Django runs on here returns the ids of an upsert's rows, new or updated.
        Flag.objects.bulk_create(
            objects,
            batch_size=ORM_BATCH,
            update_conflicts=True,
            unique_fields=["institution", "reference"],
            update_fields=list(REPLACED),
        )
        ids = [written.pk for written in objects]
        assert None not in ids
        for start in range(0, len(ids), ORM_BATCH):  # a flag sent again: its token set is replaced
            FlagToken.objects.filter(flag_id__in=ids[start : start + ORM_BATCH]).delete()
        FlagToken.objects.bulk_create(
            [
                FlagToken(flag_id=flag_id, id_type=id_type, token=token, pepper_version=version)
                for flag_id, flag in zip(ids, staged, strict=True)
                for id_type, token in flag.identifiers
            ],
            batch_size=ORM_BATCH,
        )
        note_contributions(institution, staged, now)
    return stored


def note_contributions(institution: Institution, staged: Sequence[Staged], now: datetime) -> None:
    """Stamp the categories just contributed: reciprocity reads these stamps (sharing.matching.queries)."""
    categories = {flag.category for flag in staged}
    ContributedCategory.objects.bulk_create(
        [
            ContributedCategory(institution=institution, category=category, last_contributed_at=now)
            for category in categories
        ],
        update_conflicts=True,
        unique_fields=["institution", "category"],
        update_fields=["last_contributed_at"],
    )


STAGING = "sharing_flag_staging"
STAGED_TYPES = [  # the staging table's column types, for binary COPY
    "int4",
    "varchar",
    "varchar",
    "date",
    "date",
    "varchar",
    "varchar",
    "date",
    "varchar",
    "bytea",
    "date",
    "varchar[]",  # the identifiers' types
    "bytea[]",  # and their platform tokens, in the same order
]
_COPIED = (*Staged._fields[:-1], "id_types", "tokens")


# The statements are built once from constants; every value travels as a parameter.
#
# What exists already, before the merge: flags to be updated, and this upload's own earlier rows. One
# probe of the unique (institution_id, reference) index per staged row, by construction: the flag is
# looked up in a LATERAL subquery that refers to the staged row, and OFFSET 0 keeps the planner from
# flattening it into a plain join it could turn round or hash. As a join, with statistics that still
# said the institution had no flags (a new member's first file: statistics are gathered long after a
# load), PostgreSQL read the unindexed staging table once per stored flag, and each chunk took longer
# than the last (minutes by the third); a hash join reads every flag of the institution for every
# chunk. The staging table is never analyzed: no plan depends on its size.
EXISTING = (
    "SELECT count(*),"  # noqa: S608
    " coalesce(array_agg(f.source_row ORDER BY s.row) FILTER (WHERE f.source_upload_id = %(upload)s), '{}'),"
    " coalesce(array_agg(s.row ORDER BY s.row) FILTER (WHERE f.source_upload_id = %(upload)s), '{}')"
    " FROM " + STAGING + " s CROSS JOIN LATERAL (SELECT source_upload_id, source_row FROM sharing_flag"
    " WHERE institution_id = %(institution)s AND reference = s.reference OFFSET 0) f"
)
# No join to plan: INSERT ... ON CONFLICT probes the arbiter index (the unique one) once per staged row.
# It answers the ids of the flags it updated (a new row version has no xmax; an updated one carries the
# lock that ON CONFLICT took), whose old tokens are then deleted: decided by the statement that wrote
# them, so a flag another request created meanwhile is not missed.
MERGE = (
    "WITH merged AS (INSERT INTO sharing_flag (institution_id, reference, category,"  # noqa: S608
    " event_date, end_date, amount_band, status, disputed, notice_date, notice_channel, details,"
    " details_key_id, details_destroyed_at, withdrawal_reason, expires_on, source_upload_id, source_row,"
    " created_at, updated_at)"
    " SELECT %(institution)s, reference, category, event_date, end_date,"
    " amount_band, status, false, notice_date, notice_channel, details,"
    " CASE WHEN details IS NULL THEN NULL ELSE %(key)s::bigint END, NULL, '', expires_on, %(upload)s, row,"
    " %(now)s, %(now)s FROM "
    + STAGING
    + " ON CONFLICT (institution_id, reference) DO UPDATE SET "
    + ", ".join(
        f"{column} = EXCLUDED.{column}"
        for column in (Flag._meta.get_field(name).column for name in REPLACED)  # type: ignore[union-attr]
    )
    + " RETURNING id, xmax <> 0 AS updated)"
    " SELECT coalesce(array_agg(id) FILTER (WHERE updated), '{}') FROM merged"
)
# The old tokens of the flags updated: one probe of the unique (flag_id, id_type) index per flag, locking
# what it finds, then a delete of exactly those row versions. A plain "flag_id = ANY(...)" lets the planner
# read the whole table when the array is long next to what the statistics say the table holds.
DELETE_TOKENS = (
    "DELETE FROM sharing_flagtoken WHERE ctid = ANY(ARRAY(SELECT t.ctid FROM unnest(%(updated)s::bigint[])"
    " AS u(id) CROSS JOIN LATERAL (SELECT ctid FROM sharing_flagtoken WHERE flag_id = u.id FOR UPDATE) t))"
)
# Every staged flag's tokens: one probe of the unique (institution_id, reference) index per staged row, as
# in EXISTING, for the flag's id, then its identifiers from the two arrays of the staged row.
INSERT_TOKENS = (
    "INSERT INTO sharing_flagtoken (flag_id, id_type, token, pepper_version)"  # noqa: S608
    " SELECT f.id, t.id_type, t.token, %(pepper)s FROM "
    + STAGING
    + " s CROSS JOIN LATERAL (SELECT id FROM sharing_flag WHERE institution_id = %(institution)s"
    " AND reference = s.reference OFFSET 0) f CROSS JOIN LATERAL unnest(s.id_types, s.tokens) AS t(id_type, token)"
)


def copy_to_staging(cursor: CursorWrapper, staged: Sequence[Staged]) -> None:
    """COPY staged flags into the connection's staging table, created if need be and emptied first."""
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} ("
        "row integer, reference varchar(64), category varchar(32),"
        " event_date date, end_date date, amount_band varchar(16), status varchar(16), notice_date date,"
        " notice_channel varchar(16), details bytea, expires_on date, id_types varchar(16)[], tokens bytea[])"
        " ON COMMIT DELETE ROWS"
    )
    # Empty even when the caller's transaction spans several chunks (a savepoint each).
    cursor.execute(f"TRUNCATE {STAGING}")
    # Binary COPY: PostgreSQL takes tokens and sealed details as raw bytes, not as hex text to decode.
    with cursor.copy(f"COPY {STAGING} ({', '.join(_COPIED)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(STAGED_TYPES)
        write = copy.write_row
        for flag in staged:
            identifiers = flag[-1]
            write((*flag[:-1], [pair[0] for pair in identifiers], [pair[1] for pair in identifiers]))


def store_chunk(upload: Upload, staged: Sequence[Staged], now: datetime) -> Stored:
    """A chunk of an upload's flags, in the chunk's transaction: COPY and merge on PostgreSQL, else the ORM."""
    key_record, _key = data_key_for(upload.institution)
    if connection.vendor == "postgresql":
        return copy_and_merge(upload.institution, staged, key_record, upload, now)
    return upsert_orm(upload.institution, staged, key_record, upload)


def copy_and_merge(
    institution: Institution, staged: Sequence[Staged], key_record: DataKey, upload: Upload, now: datetime
) -> Stored:
    """PostgreSQL: COPY a chunk into a staging table, merge it into the flags in one statement, and replace
    the tokens of the flags it wrote.

    Runs inside the caller's transaction; the staging table is private to the connection.
    """
    with connection.cursor() as cursor:
        copy_to_staging(cursor, staged)
        cursor.execute(EXISTING, {"upload": upload.pk, "institution": institution.pk})
        existing, earlier_rows, later_rows = cursor.fetchone()
        superseded = list(zip(earlier_rows, later_rows, strict=True))
        parameters: dict[str, Any] = {
            "institution": institution.pk,
            "pepper": peppers().version,
            "key": key_record.pk,
            "upload": upload.pk,
            "now": now,
        }
        cursor.execute(MERGE, parameters)
        (updated,) = cursor.fetchone()
        if updated:
            cursor.execute(DELETE_TOKENS, {"updated": updated})
        cursor.execute(INSERT_TOKENS, parameters)
    note_contributions(institution, staged, now)
    return Stored(created=len(staged) - existing, updated=existing - len(superseded), superseded=superseded)
