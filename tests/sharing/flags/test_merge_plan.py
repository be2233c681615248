"""The upload's merge and the inspection's match probe an index once per staged row, whatever the statistics say.

PostgreSQL plans from statistics that ANALYZE gathered at some earlier moment; autovacuum gathers them
again only after a tenth of a table has changed, so after a member's first big file they still say
the member has no flags. Planned as joins, the lookups of ``storing.EXISTING`` and
``inspections.MATCH`` were turned round by such statistics: one pass over the unindexed staging
table per stored flag, a quadratic load. Each test here makes the statistics say something else
than the table holds, stages a chunk through the code's own path, and reads the plan PostgreSQL
chooses (``EXPLAIN (FORMAT JSON)``) for the very statements the code runs.
"""

import hashlib
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from django.db import connection

from accounts.models import Institution
from sharing.flags import shared_tokens, storing
from sharing.flags.storing import Staged
from sharing.matching import inspections
from sharing.matching.queries import SHARED_STATUSES
from sharing.models import FlagToken, Inspection
from tests.factories import InstitutionFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the staged, set-based statements are PostgreSQL's"),
]

OTHERS_FLAGS = 2_000  # other members' flags, there before the member's first file
MEMBER_FLAGS = 5_000  # the member's flags from the first chunks of its file
STAGED = 5_000  # the next chunk: half of it references that exist already
UPLOAD = 7  # the upload that wrote the member's flags (no constraint refers to it)
# When ANALYZE last ran, as the member's file loads.
STATISTICS = {
    "analyzed while the table was empty": "empty",
    "analyzed before the member's first file": "others",
    "analyzed after everything was stored": "all",
}
INSERT_FLAGS = """
WITH flags AS (
INSERT INTO sharing_flag (institution_id, reference, category, event_date,
  amount_band, status, disputed, notice_channel, withdrawal_reason, expires_on, source_upload_id, source_row,
  created_at, updated_at)
SELECT (%(institutions)s::bigint[])[1 + n %% cardinality(%(institutions)s::bigint[])], %(prefix)s || n,
  'overdue_90', date '2026-03-01', '', 'active', false, 'sms',
  '', date '2031-03-01', %(upload)s, n, now(), now()
FROM generate_series(%(first)s, %(last)s) AS n
RETURNING id, source_row AS n)
INSERT INTO sharing_flagtoken (flag_id, id_type, token, pepper_version)
SELECT id, 'cnid', decode(md5(n::text) || md5((-n)::text), 'hex'), 1 FROM flags
"""


def token(n: int) -> bytes:
    """The platform token INSERT_FLAGS gives flag ``n``."""
    return hashlib.md5(str(n).encode()).digest() + hashlib.md5(str(-n).encode()).digest()  # noqa: S324


def store(institutions: list[Institution], prefix: str, first: int, last: int, upload: int | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_FLAGS,
            {
                "institutions": [i.pk for i in institutions],
                "prefix": prefix,
                "first": first,
                "last": last,
                "upload": upload,
            },
        )


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sharing_flag")
        cursor.execute("ANALYZE sharing_flagtoken")


def load(member: Institution, others: list[Institution], statistics: str) -> None:
    """Other members' flags, then the member's first chunks, with ANALYZE at the moment ``statistics`` names."""
    if statistics == "empty":
        analyze()
    store(others, "R-", 1, OTHERS_FLAGS)
    if statistics == "others":
        analyze()
    store([member], "LOAN-", OTHERS_FLAGS + 1, OTHERS_FLAGS + MEMBER_FLAGS, upload=UPLOAD)
    if statistics == "all":
        analyze()


def plan_of(statement: str, parameters: dict[str, Any]) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
        (document,) = cursor.fetchone()
    plans = json.loads(document) if isinstance(document, str) else document
    plan: dict[str, Any] = plans[0]["Plan"]
    return plan


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def scans_of(plan: dict[str, Any], relation: str) -> list[dict[str, Any]]:
    return [node for node in nodes(plan) if node.get("Relation Name") == relation]


def assert_probes_per_staged_row(plan: dict[str, Any], staging: str, index: str) -> None:
    """A nested loop reads the staging table on its outer side and probes ``index`` of the flags on its inner side,
    and the flags are read nowhere else."""
    pretty = json.dumps(plan, indent=1)
    flag_scans = scans_of(plan, "sharing_flag")
    assert flag_scans, pretty
    for scan in flag_scans:
        assert scan["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), pretty
        used = scan.get("Index Name") or {node.get("Index Name") for node in nodes(scan)} - {None}
        assert used in (index, {index}), pretty
    loops = [
        node
        for node in nodes(plan)
        if node["Node Type"] == "Nested Loop"
        for outer, inner in [sorted(node["Plans"], key=lambda child: child["Parent Relationship"] != "Outer")]
        if [scan["Node Type"] for scan in scans_of(outer, staging)] == ["Seq Scan"]
        and not scans_of(outer, "sharing_flag")
        and scans_of(inner, "sharing_flag")
        and not scans_of(inner, staging)
    ]
    assert len(loops) == 1, pretty
    assert all(scan in flag_scans for scan in scans_of(loops[0], "sharing_flag")), pretty


@pytest.fixture
def member() -> Institution:
    return InstitutionFactory.create()


@pytest.fixture
def others() -> list[Institution]:
    return InstitutionFactory.create_batch(4)


def staged_chunk() -> list[Staged]:
    """The next chunk of the member's file: its first half updates flags that exist, its second half is new."""
    start = OTHERS_FLAGS + MEMBER_FLAGS - STAGED // 2 + 1
    return [
        Staged(
            row,
            f"LOAN-{n}",
            "overdue_90",
            date(2026, 3, 1),
            None,
            "",
            "active",
            None,
            "sms",
            None,
            date(2031, 3, 1),
            (("cnid", token(n)), ("mobile", token(-n))),
        )
        for row, n in enumerate(range(start, start + STAGED), start=1)
    ]


def load_and_stage(member: Institution, others: list[Institution], statistics: str) -> None:
    """The flags loaded under ``statistics``, and a chunk staged as an upload stages it before the merge."""
    load(member, others, statistics)
    with connection.cursor() as cursor:
        storing.copy_to_staging(cursor, staged_chunk())


@pytest.mark.parametrize("statistics", STATISTICS.values(), ids=STATISTICS.keys())
def test_existing_flags_are_looked_up_by_one_unique_index_probe_per_staged_row(
    member: Institution, others: list[Institution], statistics: str
) -> None:
    load_and_stage(member, others, statistics)
    plan = plan_of(storing.EXISTING, {"upload": UPLOAD, "institution": member.pk})
    assert_probes_per_staged_row(plan, storing.STAGING, "one_flag_per_reference")
    with connection.cursor() as cursor:  # and the answer is the flags that exist
        cursor.execute(storing.EXISTING, {"upload": UPLOAD, "institution": member.pk})
        existing, earlier_rows, later_rows = cursor.fetchone()
    assert existing == len(earlier_rows) == len(later_rows) == STAGED // 2


@pytest.mark.parametrize("statistics", STATISTICS.values(), ids=STATISTICS.keys())
def test_the_merge_resolves_conflicts_through_the_unique_index_without_reading_the_flags(
    member: Institution, others: list[Institution], statistics: str
) -> None:
    load_and_stage(member, others, statistics)
    parameters: dict[str, Any] = {
        "institution": member.pk,
        "pepper": 1,
        "key": 1,
        "upload": UPLOAD,
        "now": "2026-03-02T00:00Z",
    }
    plan = plan_of(storing.MERGE, parameters)
    plan = next(node for node in nodes(plan) if node["Node Type"] == "ModifyTable")  # the CTE answers the updated
    assert plan["Conflict Arbiter Indexes"] == ["one_flag_per_reference"], plan
    assert [scan["Node Type"] for scan in nodes(plan) if "Relation Name" in scan] == ["ModifyTable", "Seq Scan"]
    assert scans_of(plan, storing.STAGING)[0]["Node Type"] == "Seq Scan"


@pytest.mark.parametrize("statistics", STATISTICS.values(), ids=STATISTICS.keys())
def test_the_merge_answers_the_ids_of_the_flags_it_updated(
    member: Institution, others: list[Institution], statistics: str
) -> None:
    load_and_stage(member, others, statistics)
    parameters: dict[str, Any] = {
        "institution": member.pk,
        "pepper": 1,
        "key": 1,
        "upload": UPLOAD,
        "now": "2026-03-02T00:00Z",
    }
    with connection.cursor() as cursor:
        cursor.execute(storing.MERGE, parameters)
        (updated,) = cursor.fetchone()
        cursor.execute(
            "SELECT id FROM sharing_flag WHERE institution_id = %s AND source_row <= %s",
            [member.pk, OTHERS_FLAGS + MEMBER_FLAGS],
        )
        existed = {pk for (pk,) in cursor.fetchall()}
    staged_existing = {pk for pk in existed if pk in set(updated)}
    assert len(updated) == STAGED // 2
    assert staged_existing == set(updated)


@pytest.mark.parametrize("statistics", STATISTICS.values(), ids=STATISTICS.keys())
def test_the_tokens_of_updated_flags_are_deleted_through_the_flag_index(
    member: Institution, others: list[Institution], statistics: str
) -> None:
    load(member, others, statistics)
    updated = list(range(1, STAGED // 2 + 1))
    plan = plan_of(storing.DELETE_TOKENS, {"updated": updated})
    pretty = json.dumps(plan, indent=1)
    scans = sorted(scan["Node Type"] for scan in scans_of(plan, "sharing_flagtoken"))
    assert scans == ["Index Scan", "ModifyTable", "Tid Scan"], pretty
    used = {node.get("Index Name") for node in nodes(plan)} - {None}
    assert used == {"one_flag_token_per_type"}, pretty


@pytest.mark.parametrize("statistics", STATISTICS.values(), ids=STATISTICS.keys())
def test_every_staged_flags_tokens_are_written_by_one_unique_index_probe_per_staged_row(
    member: Institution, others: list[Institution], statistics: str
) -> None:
    load_and_stage(member, others, statistics)
    parameters: dict[str, Any] = {
        "institution": member.pk,
        "pepper": 1,
        "key": 1,
        "upload": UPLOAD,
        "now": "2026-03-02T00:00Z",
    }
    with connection.cursor() as cursor:
        cursor.execute(storing.MERGE, parameters)
        (updated,) = cursor.fetchone()
        cursor.execute(storing.DELETE_TOKENS, {"updated": updated})
    plan = plan_of(storing.INSERT_TOKENS, parameters)
    assert_probes_per_staged_row(plan["Plans"][0], storing.STAGING, "one_flag_per_reference")
    with connection.cursor() as cursor:
        cursor.execute(storing.INSERT_TOKENS, parameters)
        cursor.execute(
            "SELECT count(*), count(DISTINCT flag_id) FROM sharing_flagtoken t JOIN sharing_flag f ON f.id = t.flag_id"
            " WHERE f.institution_id = %s AND f.reference = ANY(%s)",
            [member.pk, [flag.reference for flag in staged_chunk()]],
        )
        assert cursor.fetchone() == (2 * STAGED, STAGED)


@pytest.mark.parametrize("statistics", STATISTICS.values(), ids=STATISTICS.keys())
def test_an_inspection_looks_up_flags_by_one_token_index_probe_per_staged_token_and_one_flag_probe_per_hit(
    member: Institution, others: list[Institution], statistics: str
) -> None:
    load(member, others, statistics)
    inspector = InstitutionFactory.create()
    inspection = Inspection.objects.create(
        institution=inspector,
        file_name="portfolio.csv",
        file_format="csv",
        size_bytes=1,
        portfolio="book",
        purpose="post_loan_review",
    )
    # A part of a portfolio: a fifth of its tokens are among the stored flags.
    probes = [(row, f"C-{row}", token(row * 5)) for row in range(1, STAGED + 1)]
    inspections._match_set_wise(inspection, probes, None)  # stages the part (and matches it)
    parameters = {
        "inspection": inspection.pk,
        "resolved": "resolved",
        "statuses": [status.value for status in SHARED_STATUSES],
        "institution": inspector.pk,
        "all": True,
        "visible": [],
    }
    plan = plan_of(inspections.MATCH, parameters)
    pretty = json.dumps(plan, indent=1)
    # The staging table is read once, on the outer side of the loops; each staged token probes the token
    # index, each token found the flags' primary key; neither table is read any other way.
    assert [scan["Node Type"] for scan in scans_of(plan, inspections.STAGING)] == ["Seq Scan"], pretty
    for relation, index in (("sharing_flagtoken", "flagtoken_token"), ("sharing_flag", "sharing_flag_pkey")):
        scans = scans_of(plan, relation)
        assert len(scans) == 1, pretty
        assert scans[0]["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), pretty
        assert {node.get("Index Name") for node in nodes(scans[0])} - {None} == {index}, pretty
    assert not [node for node in nodes(plan) if node["Node Type"] in ("Hash Join", "Merge Join")], pretty
    assert inspection.hits.count() == (OTHERS_FLAGS + MEMBER_FLAGS) // 5


@pytest.mark.parametrize("statistics", STATISTICS.values(), ids=STATISTICS.keys())
def test_the_shared_token_check_probes_the_token_index_per_token_and_each_flag_met_by_its_key(
    member: Institution, others: list[Institution], statistics: str
) -> None:
    """A new member's first file with two identifiers a row: planned as a join under empty-table statistics,
    the check hashed the member's every flag once per token (minutes for a chunk)."""
    load(member, others, statistics)
    chunk = staged_chunk()
    given = [token for row in chunk for _, token in row.identifiers]
    at = [index for index, row in enumerate(chunk) for _ in row.identifiers]
    parameters: dict[str, Any] = {
        "tokens": given,
        "rows": at,
        "references": [chunk[index].reference for index in at],
        "institution": member.pk,
        "most": shared_tokens.MEETING_MOST,
    }
    statement = shared_tokens.meeting_sql(FlagToken, "flag")
    plan = plan_of(statement, parameters)
    pretty = json.dumps(plan, indent=1)
    assert not [node for node in nodes(plan) if node["Node Type"] in ("Hash Join", "Merge Join", "Hash")], pretty
    for relation in ("sharing_flagtoken", "sharing_flag"):
        scans = scans_of(plan, relation)
        assert scans, pretty
        assert all(scan["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan") for scan in scans), pretty
    with connection.cursor() as cursor:  # the staged rows meet their own earlier flags only by reference: none
        cursor.execute(statement, parameters)
        assert cursor.fetchall() == []
