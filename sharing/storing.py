"""Storing checked flags: an upsert by the member's reference, with sealed details.

Two paths give the same result. ``store_flags`` goes through the ORM and runs on
every database: JSON batches (1,000 flags at most) and file chunks on SQLite use
it. ``copy_and_merge`` is PostgreSQL's set-based path for file chunks: COPY into
a temporary staging table, then one ``INSERT ... ON CONFLICT DO UPDATE``.
Both seal details under the institution's data key before anything is written.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import Institution
from sharing.choices import FlagStatus
from sharing.envelope import Sealer
from sharing.keys import data_key_for, details_context
from sharing.models import Flag, Upload
from sharing.rows import CheckedFlag

# What an upsert replaces. Never created_at, and never the disputed marker, which belongs to the
# dispute process, not to the contributor.
REPLACED = (
    "id_type",
    "token",
    "pepper_version",
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
SQLITE_BATCH = 500


@dataclass
class Stored:
    """What an upsert did: flags created and updated, and earlier rows of the same upload it replaced."""

    created: int = 0
    updated: int = 0
    # (earlier row, later row): a reference that an earlier chunk of the same upload had already written.
    superseded: list[tuple[int, int]] = field(default_factory=list)


def status_of(flag: CheckedFlag) -> str:
    """A flag whose event has ended is resolved; otherwise it is active."""
    return FlagStatus.RESOLVED if flag.end_date else FlagStatus.ACTIVE


def store_flags(
    institution: Institution,
    flags: Sequence[CheckedFlag],
    *,
    upload: Upload | None = None,
    rows: Sequence[int] | None = None,
) -> Stored:
    """Upsert ``flags`` (distinct references) through the ORM; ``rows`` are their rows in ``upload``."""
    key_record, key = data_key_for(institution)
    sealer = Sealer(key)
    now = timezone.now()
    references = [flag.reference for flag in flags]
    before: dict[str, tuple[int | None, int | None]] = {}
    for start in range(0, len(references), SQLITE_BATCH):
        existing = Flag.objects.filter(institution=institution, reference__in=references[start : start + SQLITE_BATCH])
        before.update(
            (reference, (upload_id, row))
            for reference, upload_id, row in existing.values_list("reference", "source_upload_id", "source_row")
        )
    pepper_version = settings.PLATFORM_PEPPERS.version
    objects = []
    stored = Stored()
    for index, flag in enumerate(flags):
        row = rows[index] if rows is not None else None
        sealed = None
        if flag.details is not None:
            sealed = sealer.seal(flag.details, details_context(institution.pk, flag.reference))
        objects.append(
            Flag(
                institution=institution,
                reference=flag.reference,
                id_type=flag.id_type,
                token=flag.token,
                pepper_version=pepper_version,
                category=flag.category,
                event_date=flag.event_date,
                end_date=flag.end_date,
                amount_band=flag.amount_band,
                status=status_of(flag),
                notice_date=flag.notice_date,
                notice_channel=flag.notice_channel,
                details=sealed,
                details_key=key_record if sealed is not None else None,
                details_destroyed_at=None,
                withdrawal_reason="",
                expires_on=flag.expires_on,
                source_upload=upload,
                source_row=row,
                created_at=now,
                updated_at=now,
            )
        )
        previous = before.get(flag.reference)
        if previous is None:
            stored.created += 1
        elif upload is not None and row is not None and previous[0] == upload.pk and previous[1] is not None:
            stored.superseded.append((previous[1], row))
        else:
            stored.updated += 1
    Flag.objects.bulk_create(
        objects,
        batch_size=SQLITE_BATCH,
        update_conflicts=True,
        unique_fields=["institution", "reference"],
        update_fields=list(REPLACED),
    )
    return stored


STAGING = "sharing_flag_staging"
STAGED_COLUMNS = (
    "row",
    "reference",
    "id_type",
    "token",
    "category",
    "event_date",
    "end_date",
    "amount_band",
    "status",
    "notice_date",
    "notice_channel",
    "details",
    "expires_on",
)


def copy_and_merge(
    institution: Institution, flags: Sequence[CheckedFlag], rows: Sequence[int], upload: Upload, now: datetime
) -> Stored:
    """PostgreSQL: COPY the chunk into a staging table and merge it into the flags in one statement.

    Runs inside the caller's transaction; the staging table is private to the connection.
    """
    key_record, key = data_key_for(institution)
    sealer = Sealer(key)
    prefix = f"riskshare:flag-details:v1:{institution.pk}:"
    resolved, active = FlagStatus.RESOLVED.value, FlagStatus.ACTIVE.value
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} ("
            "row integer, reference varchar(64), id_type varchar(16), token bytea, category varchar(32),"
            " event_date date, end_date date, amount_band varchar(16), status varchar(16), notice_date date,"
            " notice_channel varchar(16), details bytea, expires_on date) ON COMMIT DELETE ROWS"
        )
        # Empty even when the caller's transaction spans several chunks (a savepoint each).
        cursor.execute(f"TRUNCATE {STAGING}")
        with cursor.copy(f"COPY {STAGING} ({', '.join(STAGED_COLUMNS)}) FROM STDIN") as copy:
            write = copy.write_row
            seal = sealer.seal
            for flag, row in zip(flags, rows, strict=True):
                details = flag.details
                write(
                    (
                        row,
                        flag.reference,
                        flag.id_type,
                        flag.token,
                        flag.category,
                        flag.event_date,
                        flag.end_date,
                        flag.amount_band,
                        resolved if flag.end_date else active,
                        flag.notice_date,
                        flag.notice_channel,
                        None if details is None else seal(details, (prefix + flag.reference).encode()),
                        flag.expires_on,
                    )
                )
        cursor.execute(
            f"SELECT f.source_row, s.row FROM {STAGING} s JOIN sharing_flag f"  # noqa: S608
            " ON f.institution_id = %s AND f.reference = s.reference WHERE f.source_upload_id = %s",
            [institution.pk, upload.pk],
        )
        superseded = [(earlier, later) for earlier, later in cursor.fetchall()]
        updates = ", ".join(
            f"{column} = EXCLUDED.{column}"
            for column in (Flag._meta.get_field(name).column for name in REPLACED)  # type: ignore[union-attr]
        )
        cursor.execute(
            "WITH merged AS ("  # noqa: S608
            " INSERT INTO sharing_flag (institution_id, reference, id_type, token, pepper_version, category,"
            " event_date, end_date, amount_band, status, disputed, notice_date, notice_channel, details,"
            " details_key_id, details_destroyed_at, withdrawal_reason, expires_on, source_upload_id, source_row,"
            " created_at, updated_at)"
            " SELECT %(institution)s, reference, id_type, token, %(pepper)s, category, event_date, end_date,"
            " amount_band, status, false, notice_date, notice_channel, details,"
            " CASE WHEN details IS NULL THEN NULL ELSE %(key)s::bigint END, NULL, '', expires_on, %(upload)s, row,"
            f" %(now)s, %(now)s FROM {STAGING}"
            f" ON CONFLICT (institution_id, reference) DO UPDATE SET {updates}"
            " RETURNING (xmax = 0) AS inserted"
            ") SELECT count(*) FILTER (WHERE inserted), count(*) FROM merged",
            {
                "institution": institution.pk,
                "pepper": settings.PLATFORM_PEPPERS.version,
                "key": key_record.pk,
                "upload": upload.pk,
                "now": now,
            },
        )
        created, total = cursor.fetchone()
    return Stored(created=created, updated=total - created - len(superseded), superseded=superseded)
