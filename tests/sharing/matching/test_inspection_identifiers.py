"""An inspected subject carries one to five identifiers: it hits a flag filed under any of them, each flag and
each institution counts once, and a row whose identifiers the standard refuses is refused alone."""

import csv
import hashlib
import io
import json
import re
from datetime import date
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import Institution
from sharing.flags.reading import Record
from sharing.keys.tokens import Peppers, peppers, platform_token
from sharing.matching import inspections, lending
from sharing.models import ContributedCategory, Flag, FlagToken, Inspection, InspectionError, InspectionHit
from tests.factories import InstitutionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/inspections"
# One borrower's member tokens, and another's.
BORROWER = {
    "cnid": "c" * 64,
    "mobile": "d" * 64,
    "passport": "e" * 64,
    "uscc": "f" * 64,
}
OTHER = {"cnid": "1" * 64, "mobile": "2" * 64, "passport": "3" * 64}


def file_flag(institution: Institution, reference: str, tokens: dict[str, str], category: str = "overdue_90") -> None:
    """A flag as the flags' storing leaves it: the flag, and one FlagToken per identifier."""
    flag = Flag.objects.create(
        institution=institution,
        reference=reference,
        category=category,
        event_date=date(2026, 3, 1),
        expires_on=date(2031, 3, 1),
        notice_channel="sms",
        notice_date=date(2026, 2, 20),
    )
    FlagToken.objects.bulk_create(
        FlagToken(flag=flag, id_type=id_type, token=platform_token(token, peppers()), pepper_version=1)
        for id_type, token in tokens.items()
    )


def csv_file(rows: list[list[str]], columns: int = 3) -> bytes:
    """A portfolio with ``columns`` identifier pairs: correlation_id, id_type, token, id_type_2, token_2 ..."""
    header = ["correlation_id", "id_type", "token"]
    header += [name for n in range(2, columns + 1) for name in (f"id_type_{n}", f"token_{n}")]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(row + [""] * (len(header) - len(row)) for row in rows)
    return text.getvalue().encode()


def inspect(client: Any, content: bytes, name: str = "p.csv", portfolio: str = "book") -> Inspection:
    data = {"file": SimpleUploadedFile(name, content), "portfolio": portfolio, "purpose": "post_loan_review"}
    response = client.post(URL, data, format="multipart")
    assert response.status_code == 202, response.json()
    inspection_id = response.json()["id"]
    for number in inspections.start(inspection_id):
        inspections.match_part(inspection_id, number, on_last=lambda: None)
    inspections.finish(inspection_id)
    return Inspection.objects.get(pk=inspection_id)


def hits(inspection: Inspection) -> list[tuple[Any, ...]]:
    rows = InspectionHit.objects.filter(inspection=inspection).order_by("row", "category")
    return list(rows.values_list("correlation_id", "category", "institutions"))


@pytest.fixture
def others(cast) -> tuple[Institution, Institution]:
    """Alpha may inspect (it contributes overdue flags); beta and gamma file flags."""
    ContributedCategory.objects.create(
        institution=cast.alpha.institution, category="overdue_90", last_contributed_at=timezone.now()
    )
    return cast.beta.institution, InstitutionFactory.create()


@pytest.fixture
def analyst(cast, client_for):
    return client_for(cast.alpha["analyst"])


def test_a_row_with_three_identifiers_hits_a_flag_filed_under_its_second(analyst, others):
    file_flag(others[0], "B-1", {"mobile": BORROWER["mobile"]})

    row = ["L-1", "cnid", BORROWER["cnid"], "mobile", BORROWER["mobile"], "passport", BORROWER["passport"]]
    inspection = inspect(analyst, csv_file([row, ["L-2", "cnid", OTHER["cnid"]]]))

    assert hits(inspection) == [("L-1", "overdue_90", 1)]
    assert (inspection.hits_count, inspection.rows_done, inspection.rejected_count) == (1, 2, 0)


def test_an_institution_is_counted_once_when_two_tokens_of_a_subject_hit(analyst, others):
    beta, gamma = others
    file_flag(beta, "B-1", {"cnid": BORROWER["cnid"]})
    file_flag(beta, "B-2", {"mobile": BORROWER["mobile"]})
    file_flag(gamma, "G-1", {"cnid": BORROWER["cnid"], "mobile": BORROWER["mobile"]})  # one flag, two tokens hit

    inspection = inspect(analyst, csv_file([["L-1", "cnid", BORROWER["cnid"], "mobile", BORROWER["mobile"]]], 2))

    assert hits(inspection) == [("L-1", "overdue_90", 2)]
    assert inspection.counts_by_category == {"overdue_90": 1}


def test_json_lines_take_the_list_of_identifiers(analyst, others):
    file_flag(others[0], "B-1", {"passport": BORROWER["passport"]})
    lines = [
        {"correlation_id": "L-1", "identifiers": [{"id_type": t, "token": BORROWER[t]} for t in ("cnid", "passport")]},
        {"correlation_id": "L-2", "id_type": "mobile", "token": OTHER["mobile"]},
    ]

    inspection = inspect(analyst, "".join(json.dumps(line) + "\n" for line in lines).encode(), "p.jsonl")

    assert hits(inspection) == [("L-1", "overdue_90", 1)]


def test_rows_with_identifiers_the_standard_refuses_are_refused_alone_and_the_rest_matched(analyst, others):
    file_flag(others[0], "B-1", {"cnid": BORROWER["cnid"]})
    six = [{"id_type": t, "token": BORROWER[t]} for t in ("cnid", "mobile", "passport", "uscc", "cnid", "mobile")]
    lines = [
        {
            "correlation_id": "L-1",
            "id_type": "cnid",
            "token": BORROWER["cnid"],
            "id_type_2": "cnid",
            "token_2": "9" * 64,
        },
        {"correlation_id": "L-2", "identifiers": six},
        {"correlation_id": "L-3", "id_type": "cnid", "token": BORROWER["cnid"], "id_type_2": "mobile", "token_2": "X"},
        {"correlation_id": "L-4", "identifiers": [{"id_type": "cnid", "token": BORROWER["cnid"], "raw": "1101"}]},
        {"correlation_id": "L-5", "identifiers": "cnid"},
        {"correlation_id": "L-6", "identifiers": [], "id_type": "cnid", "token": BORROWER["cnid"]},
        {"correlation_id": "L-7", "id_type": "cnid", "token": BORROWER["cnid"], "id_type_3": "mobile"},
        {"correlation_id": "L-8", "identifiers": [{"id_type": "cnid", "token": BORROWER["cnid"]}]},
    ]

    inspection = inspect(analyst, "".join(json.dumps(line) + "\n" for line in lines).encode(), "p.jsonl")

    refused = InspectionError.objects.filter(inspection=inspection).order_by("row", "id")
    assert list(refused.values_list("row", "field", "code")) == [
        (1, "id_type_2", "duplicate_id_type"),
        (2, "identifiers", "too_many_identifiers"),
        (3, "token_2", "bad_token"),
        (4, "identifiers[0].raw", "unknown_field"),
        (5, "identifiers", "bad_identifiers"),
        (6, "identifiers", "identifier_forms"),
        (7, "token_3", "required"),
    ]
    assert not any("1101" in message or "X" in message for message in refused.values_list("message", flat=True))
    assert hits(inspection) == [("L-8", "overdue_90", 1)]
    assert (inspection.rows_done, inspection.rejected_count, inspection.hits_count) == (8, 7, 1)


def test_a_csv_row_that_leaves_its_extra_pairs_empty_is_an_old_single_identifier_row(analyst, others):
    file_flag(others[0], "B-1", {"cnid": BORROWER["cnid"]})

    inspection = inspect(analyst, csv_file([["L-1", "cnid", BORROWER["cnid"]], ["L-2", "cnid", OTHER["cnid"]]], 5))

    assert hits(inspection) == [("L-1", "overdue_90", 1)]
    assert inspection.rejected_count == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-based path is PostgreSQL's")
def test_the_set_based_and_portable_paths_agree_on_several_identifiers(analyst, others, monkeypatch, settings):
    settings.INSPECTION_PART_ROWS = 2
    beta, gamma = others
    file_flag(beta, "B-1", {"mobile": BORROWER["mobile"]})
    file_flag(gamma, "G-1", {"cnid": BORROWER["cnid"], "passport": BORROWER["passport"]}, "identity_theft")
    file_flag(gamma, "G-2", {"passport": OTHER["passport"]})
    rows = [
        ["L-1", "cnid", BORROWER["cnid"], "mobile", BORROWER["mobile"], "passport", BORROWER["passport"]],
        ["L-2", "passport", OTHER["passport"], "cnid", OTHER["cnid"]],
        ["L-3", "mobile", BORROWER["mobile"]],
        ["L-4", "cnid", "bad"],
    ]
    set_wise = inspect(analyst, csv_file(rows))
    monkeypatch.setattr(connection, "vendor", "portable")
    portable = inspect(analyst, csv_file(rows), portfolio="again")
    monkeypatch.undo()

    assert (
        hits(set_wise)
        == hits(portable)
        == [
            ("L-1", "identity_theft", 1),
            ("L-1", "overdue_90", 1),
            ("L-2", "overdue_90", 1),
            ("L-3", "overdue_90", 1),
        ]
    )


INSERT_FLAGS = """
WITH flags AS (
  INSERT INTO sharing_flag (institution_id, reference, category, event_date, amount_band, status, disputed,
    notice_channel, withdrawal_reason, expires_on, created_at, updated_at)
  SELECT %(institution)s, 'R-' || n, 'overdue_90', date '2026-03-01', '', 'active', false, 'sms', '',
    date '2031-03-01', now(), now()
  FROM generate_series(1, %(flags)s) AS n RETURNING id, reference)
INSERT INTO sharing_flagtoken (flag_id, id_type, token, pepper_version)
SELECT id, t.id_type, sha256(convert_to(reference || t.id_type, 'UTF8')), 1
FROM flags CROSS JOIN (VALUES ('cnid'), ('mobile')) AS t(id_type)
"""


def plan_of(statement: str, parameters: dict[str, Any]) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + statement, parameters)
        return "\n".join(line for (line,) in cursor.fetchall())


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sharing_flag, sharing_flagtoken")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the staged, set-based statements are PostgreSQL's")
@pytest.mark.parametrize("analyzed", ["before the flags", "after the flags", "never"])
def test_a_part_probes_the_token_index_once_per_staged_token_whatever_the_statistics(others, analyzed):
    """Autovacuum may be off and ANALYZE long past: the plan must not turn on statistics (see test_merge_plan)."""
    inspector = others[1]
    if analyzed == "before the flags":
        analyze()
    with connection.cursor() as cursor:
        cursor.execute(INSERT_FLAGS, {"institution": others[0].pk, "flags": 3000})
    if analyzed == "after the flags":
        analyze()
    inspection = Inspection.objects.create(
        institution=inspector, file_name="p.csv", file_format="csv", size_bytes=1, portfolio="b", purpose="collection"
    )
    # A part of 3,000 subjects with two tokens each, a fifth of them flagged.
    probes = [
        (row, f"C-{row}", hashlib.sha256(f"R-{row * 5 if id_type == 'cnid' else -row}{id_type}".encode()).digest())
        for row in range(1, 3001)
        for id_type in ("cnid", "mobile")
    ]
    inspections._match_set_wise(inspection, probes, None)  # stages the part, and matches it
    parameters = {
        "inspection": inspection.pk,
        "resolved": "resolved",
        "statuses": ["active", "resolved"],
        "institution": inspector.pk,
        "all": True,
        "visible": [],
    }

    plan = plan_of(inspections.MATCH, parameters)

    assert f"Seq Scan on {inspections.STAGING}" in plan, plan
    assert re.search(r"Index Scan (using|on) flagtoken_token", plan), plan  # a plain or a bitmap probe
    assert "Index Scan using sharing_flag_pkey on sharing_flag" in plan, plan
    assert "Seq Scan on sharing_flag" not in plan, plan  # neither the flags nor their tokens read whole
    assert "Hash" not in plan, plan
    assert InspectionHit.objects.filter(inspection=inspection).count() == 600
    figures = plan_of(lending.figures_sql(inspections.STAGING), lending.params(inspector.pk, date(2026, 12, 3)))
    for table in ("sharing_loan", "sharing_queryrecord"):  # loans, their tokens and query records: probed
        assert f"Seq Scan on {table}" not in figures, figures


HOSTILE_TEXT = st.text(st.characters(exclude_categories=()), max_size=70) | st.sampled_from(
    ["\x00", "\ud800", "c" * 64]
)
HOSTILE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=12,
)
FIELDS = st.sampled_from(["id_type", "token", "id_type_2", "token_2", "id_type_5", "token_5", "identifiers", "raw"])


@settings(max_examples=300, deadline=None)
@given(row=st.dictionaries(FIELDS, HOSTILE | st.sampled_from(["cnid", "mobile", BORROWER["cnid"]]), max_size=6))
def test_a_row_of_any_shape_is_matched_whole_or_refused_field_by_field(row):
    """What the worker runs on each row: never an error that costs the part, never a value in a message."""
    row = {"correlation_id": "L-1", **row}

    probes, refusals, rows = inspections._probes([Record(2, row, None)], Peppers({1: bytes(32)}))

    assert rows == 1
    assert bool(probes) != bool(refusals)
    assert 1 <= len(probes) <= 5 or refusals
    for _line, error in refusals:
        assert error.code != "unprocessable_row", row
        assert BORROWER["cnid"] not in error.message
        assert "\x00" not in error.field
        assert "\ud800" not in error.field
