"""Query records: which institutions looked a borrower up for lending, and on which day (docs/matching.md).

A query for a lending purpose (``LENDING_PURPOSES``: a loan application, a credit review) that is
answered leaves one record per platform token of each of its subjects: the token, the querying
institution, the purpose and the day (in ``TIME_ZONE``). A refused query leaves none: not
reciprocal, over its rate or quota, or refused before matching. A second query of the same token
by the same institution for the same purpose on the same day adds nothing.

On PostgreSQL the records are written by the query's own lookup statement (``recorded``, a
data-modifying CTE written only if the query is counted within its limits); elsewhere by
``write``, once the query is counted. No member ever reads another member's records one by one:
they are counted, as distinct institutions, in the multi-lender figures (sharing.matching.lending).

Records are kept ``QUERY_RECORD_YEARS`` (two) calendar years and then deleted by the daily
retention run (``apply_retention``).
"""

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.audit import record
from accounts.choices import AuditAction
from sharing.choices import LENDING_PURPOSES, QUERY_RECORD_YEARS
from sharing.flags.checking import years_after
from sharing.models import QueryRecord

TABLE = QueryRecord._meta.db_table


def recorded(purpose: str) -> bool:
    """Whether a query for ``purpose`` leaves query records."""
    return purpose in LENDING_PURPOSES


def insert_cte(subjects: str, condition: str) -> str:
    """A common table expression, ``recorded``, that writes a record of each token of ``subjects`` (a
    FROM item with the column ``token``) if the SQL ``condition`` holds (the query is answered),
    skipping those already written that day. Parameters: ``params(...)``."""
    return (
        f"recorded AS (INSERT INTO {TABLE} (token, day, institution_id, purpose, pepper_version)"  # noqa: S608
        " SELECT DISTINCT s.token, %(record_day)s::date, %(record_institution)s, %(record_purpose)s,"
        f" %(record_pepper)s FROM {subjects} s WHERE {condition} ON CONFLICT DO NOTHING)"
    )


def params(institution_id: int, day: date, purpose: str, pepper_version: int) -> dict[str, Any]:
    """The parameters of ``insert_cte``."""
    return {
        "record_day": day,
        "record_institution": institution_id,
        "record_purpose": purpose,
        "record_pepper": pepper_version,
    }


def write(institution_id: int, tokens: Iterable[bytes], day: date, purpose: str, pepper_version: int) -> None:
    """Write the records of an answered query, where its lookup cannot (SQLite: no INSERT inside WITH)."""
    QueryRecord.objects.bulk_create(
        [
            QueryRecord(
                token=token, day=day, institution_id=institution_id, purpose=purpose, pepper_version=pepper_version
            )
            for token in set(tokens)
        ],
        ignore_conflicts=True,
    )


def expires_on(day: date) -> date:
    """The day a record of ``day`` is deleted: two calendar years on; 29 February's on 1 March, as flags'."""
    return years_after(day, QUERY_RECORD_YEARS)


def last_expired(today: date) -> date:
    """The last day whose records have expired by ``today``: ``expires_on(day) <= today`` exactly when
    ``day <= last_expired(today)``. On 29 February, that of 28 February two years back (29 February's
    records, when there is one, go on 1 March)."""
    try:
        return today.replace(year=today.year - QUERY_RECORD_YEARS)
    except ValueError:
        return date(today.year - QUERY_RECORD_YEARS, 2, 28)


def apply_retention(today: date | None = None) -> int:
    """Delete the records kept their two years; one audit event (``query_record.delete``) with their number.

    One ``DELETE`` on the day index, in its own transaction with its event; returns how many went.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        deleted, _ = QueryRecord.objects.filter(day__lte=last_expired(today)).delete()
        if deleted:
            record(AuditAction.QUERY_RECORD_DELETE, subjects=deleted)
    return deleted
