"""Shared tokens: rows of an upload whose borrower seems to share an identifier with another borrower.

Two of a member's own records of one kind (two flags, two loans) that have a platform token in
common but carry different tokens of one identifier type (the same mobile number, two resident
IDs) are most likely of two borrowers who share a phone, as families do. Both are stored as
given; the upload's report lists the row with the warning ``shared_token`` so that the member can
check it. Only the member's own records are compared: another member's never show through.

The check runs after a chunk is stored, in its transaction, on the kind's token table
(``FlagToken``, ``LoanToken``), so it sees the records of earlier chunks and of the chunk itself.
"""

from collections.abc import Sequence
from typing import Any

from django.db import connection, models

from sharing.models.identifiers import BorrowerToken

BATCH = 5_000  # tokens per look-up on the ORM's path (SQLite's limit on parameters is far above)
# The member's other records compared with a row, per token of the row. A borrower on whom a member has
# filed thousands of records would otherwise make every row of a file read all of them.
MEETING_MOST = 32

# The member's records other than the row's own (by reference) that hold one of the row's tokens, at most
# MEETING_MOST per token: one probe of the token index per token and of the record's primary key per hit,
# whatever the statistics say. The LIMIT keeps each token's probe a probe, and the record is read in a
# scalar subquery, which PostgreSQL never turns into a join: as a join, statistics gathered while the
# tables were empty (a new member's first file) made it hash the member's every record once per token.
_MEETING = (
    "SELECT c.i, m.owner FROM unnest(%(tokens)s::bytea[], %(rows)s::int[], %(references)s::text[])"
    " AS c(token, i, reference)"
    " CROSS JOIN LATERAL (SELECT t.{owner} AS owner FROM {tokens} t WHERE t.token = c.token"
    " AND (SELECT r.institution_id = %(institution)s AND r.reference IS DISTINCT FROM c.reference"
    " FROM {records} r WHERE r.id = t.{owner}) LIMIT %(most)s) m"
)


def meeting_sql(tokens: type[BorrowerToken], owner: str) -> str:
    """PostgreSQL's statement of ``_meeting`` for the token table ``tokens`` and its key ``owner``."""
    field = tokens._meta.get_field(owner)
    assert isinstance(field, models.ForeignKey)
    return _MEETING.format(
        owner=connection.ops.quote_name(field.column),
        tokens=connection.ops.quote_name(tokens._meta.db_table),
        records=connection.ops.quote_name(field.remote_field.model._meta.db_table),
    )


def shared_tokens(
    institution_id: int, staged: Sequence[tuple[Any, ...]], tokens: type[BorrowerToken], owner: str
) -> list[int]:
    """The rows (lines) of ``staged`` that share a token with another record of the institution and differ
    from it on an identifier type both have. ``staged`` rows hold their line at [0], reference at [1] and
    identifiers, ((id_type, platform token), ...), last; ``owner`` is the tokens' key to their record."""
    given: list[bytes] = []
    at: list[int] = []  # the index in ``staged`` of each token in ``given``
    for index, row in enumerate(staged):
        if len(row[-1]) < 2:
            continue  # a single identifier differs from no other record's: there is no other type to differ on
        for _id_type, token in row[-1]:
            given.append(token)
            at.append(index)
    if not given:
        return []
    meeting = _meeting(institution_id, staged, given, at, tokens, owner)
    if not meeting:
        return []
    held: dict[int, dict[str, bytes]] = {}
    records = sorted(meeting)
    for start in range(0, len(records), BATCH):
        found = tokens._default_manager.filter(**{f"{owner}_id__in": records[start : start + BATCH]})
        for record_id, id_type, token in found.values_list(f"{owner}_id", "id_type", "token"):
            held.setdefault(record_id, {})[id_type] = bytes(token)
    lines: set[int] = set()
    for record_id, indexes in meeting.items():
        theirs = held.get(record_id, {})
        for index in indexes:
            row = staged[index]
            if any(theirs.get(id_type, token) != token for id_type, token in row[-1]):
                lines.add(row[0])
    return sorted(lines)


def _meeting(
    institution_id: int,
    staged: Sequence[tuple[Any, ...]],
    given: list[bytes],
    at: list[int],
    tokens: type[BorrowerToken],
    owner: str,
) -> dict[int, set[int]]:
    """Other records of the institution holding one of ``given``: record id -> indexes of the rows meeting it."""
    meeting: dict[int, set[int]] = {}
    if connection.vendor == "postgresql":
        statement = meeting_sql(tokens, owner)
        parameters: dict[str, Any] = {
            "tokens": given,
            "rows": at,
            "institution": institution_id,
            "references": [staged[index][1] for index in at],
            "most": MEETING_MOST,
        }
        with connection.cursor() as cursor:
            cursor.execute(statement, parameters)
            for index, record_id in cursor.fetchall():
                meeting.setdefault(record_id, set()).add(index)
        return meeting
    wanted: dict[bytes, list[int]] = {}
    for token, index in zip(given, at, strict=True):
        wanted.setdefault(token, []).append(index)
    keys = list(wanted)
    seen: dict[tuple[int, bytes], int] = {}  # records met by each token of each row, up to MEETING_MOST
    for start in range(0, len(keys), BATCH):
        found = tokens._default_manager.filter(
            token__in=keys[start : start + BATCH], **{f"{owner}__institution_id": institution_id}
        ).values_list(f"{owner}_id", f"{owner}__reference", "token")
        for record_id, reference, token in found:
            token = bytes(token)
            for index in wanted[token]:
                if staged[index][1] != reference and seen.get((index, token), 0) < MEETING_MOST:
                    seen[index, token] = seen.get((index, token), 0) + 1
                    meeting.setdefault(record_id, set()).add(index)
    return meeting
