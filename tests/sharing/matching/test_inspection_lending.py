"""An inspection's multi-lender figures: exact per subject, new when they jump by a threshold, never for a
member that reports no loans, and shown in the results without a contributor."""

import csv
import hashlib
import io
import json
import random
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Institution
from memberkit.vocabulary import AMOUNT_BANDS, LENDING_FIGURES, LENDING_THRESHOLD_FIGURES, band_of_total
from sharing.keys.tokens import peppers, platform_token
from sharing.matching import inspections
from sharing.models import (
    ContributedCategory,
    ContributedLoans,
    Inspection,
    InspectionLending,
    Loan,
    LoanToken,
    QueryRecord,
)
from tests.factories import InstitutionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/inspections"
TYPES = ("cnid", "mobile", "passport")
PURPOSES = ("loan_application", "credit_review", "post_loan_review", "collection")
COLUMNS = ["correlation_id", "id_type", "token", "id_type_2", "token_2", "id_type_3", "token_3"]
Book = dict[str, tuple[int, tuple[str, ...]]]  # correlation id: (borrower, the types of its identifiers given)


def member_token(subject: int, id_type: str) -> str:
    return hashlib.sha256(f"borrower {subject} {id_type}".encode()).hexdigest()


def token_of(subject: int, id_type: str) -> bytes:
    return platform_token(member_token(subject, id_type), peppers())


def portfolio(subjects: Book) -> bytes:
    """A CSV portfolio: per correlation id, a borrower and the types of its identifiers given (1 to 3)."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    for correlation_id, (subject, types) in subjects.items():
        pairs = [value for id_type in types for value in (id_type, member_token(subject, id_type))]
        writer.writerow([correlation_id, *pairs, *[""] * (6 - len(pairs))])
    return text.getvalue().encode()


def inspect(client: Any, content: bytes, **fields: Any) -> Inspection:
    """Send a portfolio, run the job in this process as the tasks do, and return it finished."""
    data = {"file": SimpleUploadedFile("p.csv", content), "portfolio": "book", "purpose": "post_loan_review"}
    response = client.post(URL, {**data, **fields}, format="multipart")
    assert response.status_code == 202, response.json()
    inspection_id = response.json()["id"]
    for number in inspections.start(inspection_id):
        inspections.match_part(inspection_id, number, on_last=lambda: None)
    inspections.finish(inspection_id)
    return Inspection.objects.get(pk=inspection_id)


def make_loan(institution: Institution, tokens: list[bytes], opened: date, closed: date | None, band: str, ref: Any):
    loan = Loan.objects.create(
        institution=institution,
        reference=ref,
        product="instalment",
        opened_on=opened,
        closed_on=closed,
        amount_band=band,
        consent_reference="AUTH-7",
    )
    LoanToken.objects.bulk_create(
        [
            LoanToken(loan=loan, id_type=t, token=token, pepper_version=1)
            for t, token in zip(TYPES, tokens, strict=False)
        ]
    )
    return loan


def queried(token: bytes, institution: Institution, days_ago: int, purpose: str = "loan_application") -> None:
    day = timezone.localdate() - timedelta(days=days_ago)
    QueryRecord.objects.get_or_create(token=token, day=day, institution=institution, purpose=purpose, pepper_version=1)


def reciprocal(institution: Institution, loans: bool = True) -> None:
    """The institution has contributed flags (it may inspect) and, if ``loans``, loans too (it gets figures)."""
    ContributedCategory.objects.create(
        institution=institution, category="overdue_90", last_contributed_at=timezone.now()
    )
    if loans:
        ContributedLoans.objects.create(institution=institution, last_contributed_at=timezone.now())


@pytest.fixture
def lenders(cast):
    """Alpha, the inspecting member, and four other lenders."""
    reciprocal(cast.alpha.institution)
    return [cast.alpha.institution, *InstitutionFactory.create_batch(4)]


@pytest.fixture
def analyst(cast, client_for):
    return client_for(cast.alpha["analyst"])


def generate(lenders: list[Institution], seed: int) -> tuple[Book, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Twelve subjects with one to three identifiers, query records and loans of every lender on their tokens."""
    rng = random.Random(seed)
    subjects = {f"S-{n}": (n, tuple(rng.sample(TYPES, rng.randint(1, 3)))) for n in range(12)}
    pool = [(n, id_type) for n in range(12) for id_type in TYPES]
    records = set()
    for _ in range(150):
        n, id_type = rng.choice(pool)
        record = (n, id_type, rng.choice(lenders), rng.randint(0, 120), rng.choice(PURPOSES))
        records.add(record)
        queried(token_of(n, id_type), *record[2:])
    loans = []
    today = timezone.localdate()
    for k in range(50):
        n = rng.randrange(12)
        types = rng.sample(TYPES, rng.randint(1, 3))
        opened = today - timedelta(days=rng.randint(0, 400))
        closed = None if rng.random() < 0.5 else min(today, opened + timedelta(days=rng.randint(0, 300)))
        reference = None if rng.random() < 0.1 else f"L-{k}"  # an erased loan is never open
        band = rng.choice(AMOUNT_BANDS)
        lender = rng.choice(lenders)
        make_loan(lender, [token_of(n, t) for t in types], opened, closed, band, reference)
        loans.append((n, set(types), lender.pk, opened, closed, reference, band))
    return subjects, sorted(records, key=str), loans


def expected(caller: Institution, subjects, records, loans) -> dict[str, dict[str, Any]]:
    """Each subject's figures, worked out here from their definitions (docs/matching.md), by correlation id."""
    today = timezone.localdate()
    answers = {}
    for correlation_id, (n, types) in subjects.items():
        lending = [
            (lender.pk, days) for m, t, lender, days, p in records if m == n and t in types and p in PURPOSES[:2]
        ]
        found = [loan for loan in loans if loan[0] == n and loan[1] & set(types)]
        others = [loan for loan in found if loan[2] != caller.pk]
        own = [loan for loan in found if loan[2] == caller.pk]
        open_elsewhere = [loan for loan in others if loan[4] is None and loan[5] is not None]
        figures = {
            **{
                f"institutions_queried_{days}d": len({i for i, ago in lending if i != caller.pk and ago < days})
                for days in (7, 30, 90)
            },
            "institutions_with_open_loans": len({loan[2] for loan in open_elsewhere}),
            **{
                f"loans_opened_{days}d": sum(1 for loan in others if loan[3] > today - timedelta(days=days))
                for days in (90, 180)
            },
            "open_amount_band": band_of_total([loan[6] for loan in open_elsewhere]),
            "own_queries_90d": len({ago for i, ago in lending if i == caller.pk and ago < 90}),
            "own_open_loans": sum(1 for loan in own if loan[4] is None and loan[5] is not None),
            "own_loans_opened_180d": sum(1 for loan in own if loan[3] > today - timedelta(days=180)),
        }
        if any(value for name, value in figures.items() if name != "open_amount_band"):
            answers[correlation_id] = figures
    return answers


def stored(inspection: Inspection) -> dict[str, dict[str, Any]]:
    rows = InspectionLending.objects.filter(inspection=inspection).values("correlation_id", *LENDING_FIGURES)
    return {row.pop("correlation_id"): row for row in rows}


@pytest.mark.parametrize("seed", range(4))
def test_each_subjects_figures_are_exact_against_a_generated_dataset(analyst, lenders, settings, seed):
    settings.INSPECTION_PART_ROWS = 5  # several parts, each with its own staging
    subjects, records, loans = generate(lenders, seed)
    want = expected(lenders[0], subjects, records, loans)
    assert want, "the dataset gives something to count"

    inspection = inspect(analyst, portfolio(subjects))

    assert inspection.status == "succeeded", inspection.error
    assert stored(inspection) == want
    others = [figures for figures in want.values() if any(figures[name] for name in LENDING_THRESHOLD_FIGURES)]
    assert inspection.lending_count == len(others)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-based path is PostgreSQL's")
def test_the_set_based_and_portable_figures_agree(analyst, lenders, monkeypatch):
    subjects, _records, _loans = generate(lenders, 7)
    set_wise = inspect(analyst, portfolio(subjects))
    monkeypatch.setattr(connection, "vendor", "portable")
    portable = inspect(analyst, portfolio(subjects), portfolio="again")
    monkeypatch.undo()

    assert stored(set_wise) == stored(portable) != {}


def test_a_loan_and_an_institution_found_by_two_tokens_of_a_subject_count_once(analyst, lenders):
    beta = lenders[1]
    two = [token_of(0, "cnid"), token_of(0, "mobile")]
    make_loan(beta, two, timezone.localdate() - timedelta(days=10), None, "10k_50k", "B-1")
    make_loan(beta, two[1:], timezone.localdate() - timedelta(days=20), None, "10k_50k", "B-2")
    for token in two:
        queried(token, beta, 1)

    inspection = inspect(analyst, portfolio({"S-0": (0, ("cnid", "mobile", "passport"))}))

    assert stored(inspection) == {
        "S-0": {
            "institutions_queried_7d": 1,
            "institutions_queried_30d": 1,
            "institutions_queried_90d": 1,
            "institutions_with_open_loans": 1,
            "loans_opened_90d": 2,
            "loans_opened_180d": 2,
            "open_amount_band": "50k_200k",  # two loans of 10,000 to 50,000 count 60,000
            "own_queries_90d": 0,
            "own_open_loans": 0,
            "own_loans_opened_180d": 0,
        }
    }


BOOK = {"S-A": (1, ("cnid", "mobile")), "S-B": (2, ("cnid",)), "S-C": (3, ("passport", "cnid"))}


def lenders_query(lenders: list[Institution], subject: int, how_many: int, days_ago: int = 3) -> None:
    for lender in lenders[1 : 1 + how_many]:
        queried(token_of(subject, "cnid"), lender, days_ago)


def test_a_jump_by_the_threshold_makes_a_subject_new_and_a_smaller_one_does_not(analyst, lenders):
    lenders_query(lenders, 2, 1, days_ago=40)  # S-B: one lender in the 90 days, not in the 30
    first = inspect(analyst, portfolio(BOOK))
    lenders_query(lenders, 1, 2)  # S-A: two new lenders in 30 days
    lenders_query(lenders, 2, 1)  # S-B: one

    second = inspect(analyst, portfolio(BOOK), **{"lending_thresholds.institutions_queried_30d": "2"})

    rows = InspectionLending.objects.filter(inspection=second)
    assert dict(rows.values_list("correlation_id", "new")) == {"S-A": True, "S-B": False}
    assert (second.previous_id, second.new_hits_count, second.lending_count) == (first.pk, 1, 2)
    assert second.lending_thresholds == {"institutions_queried_30d": 2}
    assert not InspectionLending.objects.filter(inspection=first, new=True).exists()


def test_with_a_threshold_of_one_a_single_new_lender_is_enough_and_without_one_nothing_is_new(analyst, lenders):
    inspect(analyst, portfolio(BOOK))
    lenders_query(lenders, 2, 1)

    without = inspect(analyst, portfolio(BOOK))
    lenders_query(lenders, 3, 1)
    with_one = inspect(analyst, portfolio(BOOK), lending_thresholds=json.dumps({"institutions_queried_7d": 1}))

    assert (without.new_hits_count, without.lending_count) == (0, 1)
    assert set(InspectionLending.objects.filter(inspection=with_one, new=True).values_list("correlation_id")) == {
        ("S-C",)  # S-B's lender was there at the previous inspection already
    }
    assert with_one.new_hits_count == 1


def test_a_member_without_loan_contributions_gets_no_figures_and_a_note(cast, client_for, lenders):
    beta_analyst = client_for(cast.beta["analyst"])
    reciprocal(cast.beta.institution, loans=False)
    lenders_query(lenders, 1, 3)

    inspection = inspect(beta_analyst, portfolio(BOOK))
    job = beta_analyst.get(f"{URL}/{inspection.pk}").json()
    lines = results(beta_analyst, inspection, "application/jsonl")

    assert not InspectionLending.objects.filter(inspection=inspection).exists()
    assert (inspection.lending_note, inspection.lending_count) == ("no_loan_contributions", None)
    assert job["lending_note"]["code"] == "no_loan_contributions"
    assert job["lending_count"] is None
    assert lines == ""  # no hit, and no figures to show


def results(client: Any, inspection: Inspection, accept: str = "text/csv") -> str:
    response = client.get(f"{URL}/{inspection.pk}/results", HTTP_ACCEPT=accept)
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_the_results_show_each_subjects_figures_and_never_a_contributor(analyst, lenders):
    lenders_query(lenders, 1, 2)
    make_loan(lenders[3], [token_of(1, "mobile")], timezone.localdate(), None, "lt_10k", "D-1")
    inspection = inspect(analyst, portfolio(BOOK))
    job = analyst.get(f"{URL}/{inspection.pk}").json()

    table = list(csv.DictReader(io.StringIO(results(analyst, inspection))))
    (line,) = [json.loads(text) for text in results(analyst, inspection, "application/jsonl").splitlines()]

    assert (job["lending_note"], job["lending_count"], job["lending_thresholds"]) == (None, 1, {})
    assert [(row["correlation_id"], row["category"], row["institutions_queried_7d"]) for row in table] == [
        ("S-A", "", "2")
    ]
    assert table[0]["institutions_with_open_loans"] == "1"
    assert table[0]["open_amount_band"] == "lt_10k"
    assert table[0]["lending_new"] == "false"
    assert line == {
        "correlation_id": "S-A",
        "new": False,
        "categories": [],
        "lending": {
            **dict.fromkeys(LENDING_FIGURES, 0),
            "institutions_queried_7d": 2,
            "institutions_queried_30d": 2,
            "institutions_queried_90d": 2,
            "institutions_with_open_loans": 1,
            "loans_opened_90d": 1,
            "loans_opened_180d": 1,
            "open_amount_band": "lt_10k",
        },
        "lending_new": False,
    }
    text = results(analyst, inspection) + json.dumps(job)
    for lender in lenders[1:]:
        assert lender.code not in text
        assert lender.name_en not in text


@pytest.mark.parametrize(
    ("sent", "field", "code"),
    [
        (
            {"lending_thresholds.institutions_queried_30d": "0"},
            "lending_thresholds.institutions_queried_30d",
            "min_value",
        ),
        (
            {"lending_thresholds.institutions_queried_30d": "two"},
            "lending_thresholds.institutions_queried_30d",
            "invalid",
        ),
        ({"lending_thresholds.own_open_loans": "1"}, "lending_thresholds.own_open_loans", "unknown_figure"),
        ({"lending_thresholds.open_amount_band": "1"}, "lending_thresholds.open_amount_band", "unknown_figure"),
        ({"lending_thresholds": '{"loans_opened_90d": 10000000}'}, "lending_thresholds.loans_opened_90d", "max_value"),
        ({"lending_thresholds": "[1, 2]"}, "lending_thresholds", "bad_lending_thresholds"),
        ({"lending_thresholds": '{"\\ud800\\u0000": 1}'}, "lending_thresholds.\\ud800\\x00", "unknown_figure"),
        ({"lending_thresholds": "[" * 100_000}, "lending_thresholds", "bad_lending_thresholds"),
        ({"lending_thresholds": "{"}, "lending_thresholds", "bad_lending_thresholds"),
        ({"lending_thresholds": '{"loans_opened_90d": true}'}, "lending_thresholds.loans_opened_90d", "invalid"),
    ],
)
def test_a_bad_threshold_is_refused_on_its_field(analyst, lenders, sent, field, code):
    data = {"file": SimpleUploadedFile("p.csv", portfolio(BOOK)), "portfolio": "book", "purpose": "post_loan_review"}

    response = analyst.post(URL, {**data, **sent}, format="multipart")

    assert response.status_code == 400
    assert [(error["field"], error["code"]) for error in response.json()["errors"]] == [(field, code)]
    assert not Inspection.objects.exists()


def test_an_empty_threshold_field_of_the_portals_form_is_no_threshold(analyst, lenders):
    inspection = inspect(
        analyst,
        portfolio(BOOK),
        **{"lending_thresholds.institutions_queried_7d": "", "lending_thresholds.loans_opened_90d": "3"},
    )

    assert inspection.lending_thresholds == {"loans_opened_90d": 3}


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=30), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=JSONISH, name=st.sampled_from([*LENDING_THRESHOLD_FIGURES, "x"]) | st.text(max_size=40))
def test_hostile_thresholds_answer_400_on_a_field_or_are_taken(analyst, lenders, value, name):
    sent = {name: value}
    data = {"file": SimpleUploadedFile("p.csv", portfolio(BOOK)), "portfolio": "book", "purpose": "post_loan_review"}
    as_text = json.dumps(sent)

    response = analyst.post(URL, {**data, "lending_thresholds": as_text}, format="multipart")

    assert response.status_code in (202, 400), response.content
    if response.status_code == 400:
        assert all(error["field"].startswith("lending_thresholds") for error in response.json()["errors"])
    else:
        assert name in LENDING_THRESHOLD_FIGURES
        assert response.json()["lending_thresholds"][name] >= 1
