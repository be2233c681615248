"""The multi-lender figures (sharing.matching.lending), exact against a generated dataset, in both forms."""

import random
from datetime import date, timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.choices import InstitutionKind
from memberkit.vocabulary import AMOUNT_BANDS, LENDING_FIGURES, band_of_total
from sharing.matching import lending
from sharing.models import ContributedLoans, Loan, LoanToken, QueryRecord
from tests.factories import InstitutionFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 3)
ID_TYPES = ("cnid", "mobile", "uscc", "passport")
PURPOSES = ("loan_application", "credit_review", "post_loan_review", "collection", "fraud_investigation")
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="figures_sql is PostgreSQL's")


def make_loan(institution, tokens, opened_on, closed_on=None, band="10k_50k", reference="L"):
    loan = Loan.objects.create(
        institution=institution,
        reference=reference,
        product="cash_loan",
        opened_on=opened_on,
        closed_on=closed_on,
        amount_band=band,
        consent_reference="AUTH-1",
    )
    LoanToken.objects.bulk_create(
        [
            LoanToken(loan=loan, id_type=id_type, token=token, pepper_version=1)
            for id_type, token in zip(ID_TYPES, tokens, strict=False)
        ]
    )
    return loan


def record(token, day, institution, purpose="loan_application"):
    QueryRecord.objects.create(token=token, day=day, institution=institution, purpose=purpose, pepper_version=1)


@pytest.fixture
def members(db):
    return [InstitutionFactory.create(kind=InstitutionKind.MEMBER) for _ in range(4)]


def generate(members, seed, today=TODAY, pool=None):
    """Random query records over 120 days and loans over 400 days, on a small pool of tokens, so that
    subjects share tokens with each other and a loan often carries several of one subject's tokens."""
    rng = random.Random(seed)
    pool = pool or [rng.randbytes(32) for _ in range(10)]
    records = {
        (rng.choice(pool), today - timedelta(days=rng.randint(0, 120)), rng.choice(members), rng.choice(PURPOSES))
        for _ in range(200)
    }
    QueryRecord.objects.bulk_create(
        [
            QueryRecord(token=token, day=day, institution=institution, purpose=purpose, pepper_version=1)
            for token, day, institution, purpose in records
        ]
    )
    loans = []
    for n in range(60):
        opened = today - timedelta(days=rng.randint(0, 400))
        closed = None if rng.random() < 0.5 else min(today, opened + timedelta(days=rng.randint(0, 300)))
        tokens = rng.sample(pool, rng.randint(1, 3))
        reference = None if rng.random() < 0.1 else f"L-{n}"  # erased by retention (its tokens kept here)
        band = rng.choice(AMOUNT_BANDS)
        loans.append((make_loan(rng.choice(members), tokens, opened, closed, band, reference), tokens))
    subjects = [(row, token) for row in range(12) for token in rng.sample(pool, rng.randint(1, 4))]
    return records, loans, subjects


def expected(caller, records, loans, subjects, today=TODAY):
    """The figures, computed here from the definitions in docs/matching.md."""
    answers = {}
    for row in {row for row, _ in subjects}:
        tokens = {token for r, token in subjects if r == row}
        lending_records = [
            (institution.pk, day)
            for token, day, institution, purpose in records
            if token in tokens and purpose in ("loan_application", "credit_review")
        ]
        found = {loan.pk: loan for loan, loan_tokens in loans if tokens & set(loan_tokens)}.values()
        others = [loan for loan in found if loan.institution_id != caller.pk]
        own = [loan for loan in found if loan.institution_id == caller.pk]
        open_elsewhere = [loan for loan in others if loan.closed_on is None and loan.reference is not None]

        def queried(days, lending_records=lending_records):
            return len({i for i, day in lending_records if i != caller.pk and day > today - timedelta(days=days)})

        figures = {
            "institutions_queried_7d": queried(7),
            "institutions_queried_30d": queried(30),
            "institutions_queried_90d": queried(90),
            "institutions_with_open_loans": len({loan.institution_id for loan in open_elsewhere}),
            "loans_opened_90d": sum(1 for loan in others if loan.opened_on > today - timedelta(days=90)),
            "loans_opened_180d": sum(1 for loan in others if loan.opened_on > today - timedelta(days=180)),
            "open_amount_band": band_of_total([loan.amount_band for loan in open_elsewhere]),
            "own_queries_90d": len(
                {day for i, day in lending_records if i == caller.pk and day > today - timedelta(days=90)}
            ),
            "own_open_loans": sum(1 for loan in own if loan.closed_on is None and loan.reference is not None),
            "own_loans_opened_180d": sum(1 for loan in own if loan.opened_on > today - timedelta(days=180)),
        }
        if any(value for name, value in figures.items() if name != "open_amount_band"):
            answers[row] = figures
    return answers


@pytest.mark.parametrize("seed", range(6))
def test_the_figures_are_exact_against_a_generated_dataset(members, seed):
    records, loans, subjects = generate(members, seed)
    caller = members[0]

    want = expected(caller, records, loans, subjects)

    assert want, "the dataset gives something to count"
    assert lending.compute(caller.pk, TODAY, subjects) == want
    assert lending.portable(caller.pk, TODAY, subjects) == want
    for figures in want.values():
        assert list(figures) == list(LENDING_FIGURES)


def test_a_loan_found_through_two_tokens_and_an_institution_with_two_loans_count_once(members):
    caller, beta, gamma = members[:3]
    cnid, mobile = b"c" * 32, b"m" * 32
    make_loan(beta, [cnid, mobile], TODAY - timedelta(days=10), band="10k_50k")
    make_loan(beta, [mobile], TODAY - timedelta(days=100), band="10k_50k", reference="L2")
    make_loan(gamma, [cnid], TODAY - timedelta(days=200), band="10k_50k", reference="L3")
    for day in (TODAY, TODAY - timedelta(days=1)):
        for token in (cnid, mobile):
            record(token, day, beta, "credit_review")

    figures = lending.compute(caller.pk, TODAY, [(0, cnid), (0, mobile)])[0]

    assert figures["institutions_queried_7d"] == 1
    assert figures["institutions_with_open_loans"] == 2
    assert (figures["loans_opened_90d"], figures["loans_opened_180d"]) == (1, 2)
    assert figures["open_amount_band"] == "50k_200k"  # three loans of 10,000 to 50,000 make 90,000


def test_the_callers_own_are_apart(members):
    caller, beta = members[:2]
    token = b"t" * 32
    make_loan(caller, [token], TODAY - timedelta(days=3))
    for day in (TODAY, TODAY - timedelta(days=89), TODAY - timedelta(days=90)):
        record(token, day, caller)
    record(token, TODAY, caller, "collection")
    record(token, TODAY, beta, "collection")

    figures = lending.compute(caller.pk, TODAY, [(7, token)])

    assert figures == {
        7: {
            **lending.NONE,
            "own_queries_90d": 2,  # the day 90 days back is outside the window; collection is no lending query
            "own_open_loans": 1,
            "own_loans_opened_180d": 1,
        }
    }


def test_a_subject_with_nothing_to_show_has_no_row(members):
    caller, beta = members[:2]
    token = b"o" * 32
    make_loan(beta, [token], TODAY - timedelta(days=400), TODAY - timedelta(days=300))  # closed, long ago

    assert lending.compute(caller.pk, TODAY, [(0, token), (1, b"n" * 32)]) == {}
    assert lending.portable(caller.pk, TODAY, [(0, token), (1, b"n" * 32)]) == {}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bands=st.lists(st.sampled_from(AMOUNT_BANDS), min_size=1, max_size=6))
def test_the_total_of_open_loans_is_said_as_band_of_total_says_it(members, bands):
    caller, beta = members[:2]
    token = random.Random(str(bands)).randbytes(32)
    Loan.objects.all().delete()
    LoanToken.objects.all().delete()
    for n, band in enumerate(bands):
        make_loan(beta, [token], TODAY - timedelta(days=500), band=band, reference=f"B-{n}")

    sql = lending.compute(caller.pk, TODAY, [(0, token)])[0]["open_amount_band"]

    assert sql == band_of_total(bands) == lending.portable(caller.pk, TODAY, [(0, token)])[0]["open_amount_band"]


@postgresql_only
def test_the_statement_probes_the_indexes_whatever_the_statistics(members):
    """Autovacuum may be off: the plan must not hang on statistics. Each token probes an index."""
    _, _, subjects = generate(members, 0)
    relation = "unnest(%(lending_rows)s::int[], %(lending_tokens)s::bytea[]) AS v(row, token)"
    values = {
        **lending.params(members[0].pk, TODAY),
        "lending_rows": [row for row, _ in subjects],
        "lending_tokens": [token for _, token in subjects],
    }
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + lending.figures_sql(relation), values)
        plan = "\n".join(line for (line,) in cursor.fetchall())

    assert "one_query_record_per_day" in plan
    assert "loantoken_token" in plan
    assert "sharing_loan_pkey" in plan
    assert "Seq Scan on sharing_" not in plan


def test_loans_reciprocal_needs_a_loan_reported_within_the_window(members):
    caller = members[0]
    now = timezone.now()

    assert not lending.loans_reciprocal(caller, now)
    ContributedLoans.objects.create(institution=caller, last_contributed_at=now - timedelta(days=5))
    assert lending.loans_reciprocal(caller, now)
    assert not lending.loans_reciprocal(caller, now + timedelta(days=django_settings.MATCH_RECIPROCITY_DAYS))
