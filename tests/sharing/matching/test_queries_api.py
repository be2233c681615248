"""POST /api/v1/queries: other members' flags on a borrower, by category, never by contributor; subjects of
several identifiers; the multi-lender figures and their note."""

import json
import os
import random
from collections import defaultdict
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.choices import AuditAction, InstitutionKind, Scope
from accounts.models import AuditEvent
from memberkit.vocabulary import LENDING_FIGURES
from sharing.flags import services
from sharing.flags.identifiers import PAIRS
from sharing.keys.tokens import Keyer, peppers
from sharing.matching import lending
from sharing.models import ContributedCategory, ContributedLoans, Flag, UsageCounter
from tests.factories import (
    PEOPLE,
    InstitutionFactory,
    contribute_rows,
    flag_item,
    member_token_of,
    more_identifiers,
)
from tests.sharing.matching import test_lending as generated
from tests.sharing.matching.test_lending import ID_TYPES, make_loan

pytestmark = pytest.mark.django_db

URL = "/api/v1/queries"
TOKEN_0, TOKEN_1 = member_token_of(PEOPLE[0]), member_token_of(PEOPLE[1])


def token(raw):
    return member_token_of(raw)


def ask(client, raws, purpose="post_loan_review", **extra):
    subjects = [{"correlation_id": f"C-{n}", "id_type": "cnid", "token": token(raw)} for n, raw in enumerate(raws)]
    return client.post(URL, {"purpose": purpose, "subjects": subjects, **extra})


@pytest.fixture
def gamma(db):
    return InstitutionFactory.create(kind=InstitutionKind.MEMBER, name_en="Gamma Ltd.", name_zh="伽马公司")


@pytest.fixture
def analyst_client(cast, client_for):
    services.contribute(cast.alpha.institution, [flag_item("ALPHA-OWN", category="overdue_90")])
    return client_for(cast.alpha["analyst"])


DATASET = [
    # (institution, reference, person, category, event date, end date)
    ("beta", "B-1", 0, "overdue_90", "2026-03-10", None),
    ("beta", "B-2", 0, "overdue_90", "2025-11-02", "2026-01-15"),
    ("gamma", "G-1", 0, "overdue_90", "2026-05-20", None),
    ("beta", "B-3", 1, "fraud_confirmed", "2026-02-01", None),
    ("gamma", "G-2", 1, "identity_theft", "2026-04-04", None),
    ("gamma", "G-3", 2, "overdue_90", "2024-12-31", None),
    ("alpha", "A-1", 3, "overdue_90", "2026-06-01", None),
]


@pytest.fixture
def dataset(cast, gamma):
    owners = {"alpha": cast.alpha.institution, "beta": cast.beta.institution, "gamma": gamma}
    contribute_rows(owners, DATASET)
    return owners


def expected(asker, visible):
    """The answer computed from DATASET directly: what the platform must say."""
    by_person: defaultdict[int, dict[str, defaultdict[str, list[tuple[str, str, str | None]]]]] = defaultdict(
        lambda: {"others": defaultdict(list), "own": defaultdict(list)}
    )
    for owner, _reference, person, category, event, end in DATASET:
        side = "own" if owner == asker else "others"
        if side == "others" and category not in visible:
            continue
        by_person[person][side][category].append((owner, event, end))
    answers = []
    for n, _raw in enumerate(PEOPLE):
        groups = by_person[n]
        answers.append(
            {
                "correlation_id": f"C-{n}",
                "hit": bool(groups["others"]),
                "categories": [
                    {
                        "category": category,
                        "institutions": len({owner for owner, _, _ in rows}),
                        "latest_event_month": max(event for _, event, _ in rows)[:7],
                        "disputed": False,
                        "resolved": any(end for _, _, end in rows),
                    }
                    for category, rows in sorted(groups["others"].items())
                ],
                "own": [
                    {
                        "category": category,
                        "flags": len(rows),
                        "latest_event_month": max(event for _, event, _ in rows)[:7],
                        "disputed": False,
                        "resolved": any(end for _, _, end in rows),
                    }
                    for category, rows in sorted(groups["own"].items())
                ],
                "lending": None,  # the asker reports no loans
            }
        )
    return answers


def test_hits_and_misses_match_the_dataset_exactly(cast, client_for, dataset):
    response = ask(client_for(cast.alpha["analyst"]), PEOPLE)

    assert response.status_code == 200, response.json()
    # Alpha contributes overdue_90 only: it sees that category and the protective identity_theft.
    assert response.json()["subjects"] == expected("alpha", {"overdue_90", "identity_theft"})
    assert response.json()["hits"] == 3


def test_with_every_category_open_the_answer_still_matches(cast, client_for, dataset, settings):
    settings.MATCH_OWN_CATEGORIES_ONLY = False

    response = ask(client_for(cast.alpha["analyst"]), PEOPLE)

    assert response.json()["subjects"] == expected("alpha", {"overdue_90", "identity_theft", "fraud_confirmed"})


def test_no_answer_reveals_a_contributor(cast, client_for, dataset, gamma):
    text = ask(client_for(cast.alpha["analyst"]), PEOPLE).content.decode()

    for secret in [
        cast.beta.institution.code,
        gamma.code,
        "Beta",
        "Gamma",
        "B-1",
        "G-1",
        *(token(raw) for raw in PEOPLE),
    ]:
        assert secret not in text.replace('"C-', '"'), secret
    keys = {key for subject in json.loads(text)["subjects"] for group in subject["categories"] for key in group}
    assert keys == {
        "category",
        "institutions",
        "latest_event_month",
        "disputed",
        "resolved",
    }


def test_disputed_resolved_expired_and_withdrawn_flags(cast, client_for, dataset):
    Flag.objects.filter(reference="G-1").update(disputed=True)
    Flag.objects.filter(reference="B-1").update(status="withdrawn")
    Flag.objects.filter(reference="B-2").update(status="expired")

    answer = ask(client_for(cast.alpha["analyst"]), PEOPLE[:1]).json()["subjects"][0]

    assert answer["categories"] == [
        {
            "category": "overdue_90",
            "institutions": 1,
            "latest_event_month": "2026-05",
            "disputed": True,
            "resolved": False,
        }
    ]


def test_an_institution_that_has_not_contributed_may_not_query(cast, client_for, dataset, gamma):
    from tests.factories import UserFactory

    idle = InstitutionFactory.create(kind=InstitutionKind.MEMBER)
    person = UserFactory.create(institution=idle, roles=["analyst"])

    response = ask(client_for(person), PEOPLE)

    assert response.status_code == 403
    assert response.json()["code"] == "not_reciprocal"
    assert not UsageCounter.objects.exists(), "a refused query counts for nothing"


def test_contributions_older_than_the_window_do_not_count(cast, client_for, dataset, settings):
    ContributedCategory.objects.filter(institution=cast.alpha.institution).update(
        last_contributed_at=timezone.now() - timedelta(days=settings.MATCH_RECIPROCITY_DAYS + 1)
    )

    assert ask(client_for(cast.alpha["analyst"]), PEOPLE).json()["code"] == "not_reciprocal"


def test_loan_applications_need_the_borrowers_consent(analyst_client):
    missing = ask(analyst_client, PEOPLE[:1], purpose="loan_application")
    given = ask(analyst_client, PEOPLE[:1], purpose="loan_application", consent_reference="AUTH-2026-0042")

    assert missing.status_code == 400
    assert missing.json()["errors"] == [
        {
            "field": "consent_reference",
            "code": "consent_required",
            "message": "该用途需要填写借款人书面授权的编号。",  # Chinese unless the request asks for English
        }
    ]
    assert given.status_code == 200


def test_every_query_is_audited_with_purpose_consent_and_counts(cast, analyst_client, dataset):
    ask(analyst_client, PEOPLE, purpose="credit_review", consent_reference="AUTH-7")

    event = AuditEvent.objects.get(action=AuditAction.QUERY)
    assert (event.purpose, event.consent_reference, event.subjects_count, event.hits_count) == (
        "credit_review",
        "AUTH-7",
        5,
        3,
    )
    assert event.actor_user_id == cast.alpha["analyst"].pk


def test_a_bad_token_is_refused_without_echoing_it(analyst_client):
    response = analyst_client.post(
        URL,
        {
            "purpose": "collection",
            "subjects": [{"correlation_id": "C-0", "id_type": "cnid", "token": "11010519491231002X"}],
        },
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "subjects[0].token"
    assert response.json()["errors"][0]["code"] == "bad_token"
    assert "11010519491231002X" not in response.content.decode()


@pytest.mark.parametrize("count", [0, 101])
def test_a_query_holds_one_to_a_hundred_subjects(analyst_client, count):
    response = ask(analyst_client, [PEOPLE[0]] * count)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "subjects"


def test_the_daily_quota_is_counted_in_subjects(analyst_client, settings):
    settings.MATCH_DAILY_QUOTA = 3

    first = ask(analyst_client, PEOPLE[:2])
    second = ask(analyst_client, PEOPLE[:2])
    third = ask(analyst_client, PEOPLE[:1])

    assert first.status_code == 200
    assert second.status_code == 429
    assert second.json()["code"] == "quota_exceeded"
    assert 0 < int(second["Retry-After"]) <= 24 * 3600
    assert third.status_code == 200  # the refused query counted for nothing


def test_the_rate_per_minute_is_throttled(analyst_client, settings):
    settings.MATCH_RATE_PER_MINUTE = 2

    ask(analyst_client, PEOPLE[:2])
    response = ask(analyst_client, PEOPLE[:1])

    assert response.status_code == 429
    assert response.json()["code"] == "rate_exceeded"
    assert 0 < int(response["Retry-After"]) <= 60


def test_each_institution_has_its_own_quota(cast, client_for, analyst_client, settings):
    settings.MATCH_DAILY_QUOTA = 2
    services.contribute(cast.beta.institution, [flag_item("BETA-OWN")])

    ask(analyst_client, PEOPLE[:2])

    assert ask(client_for(cast.beta["analyst"]), PEOPLE[:2]).status_code == 200


def test_keys_need_the_match_scope(cast, key_client, analyst_client):
    with_scope, _ = key_client(cast.alpha.institution, scopes=[Scope.MATCH])
    without, _ = key_client(cast.alpha.institution, scopes=[Scope.FLAGS_WRITE])

    assert ask(with_scope, PEOPLE[:1]).status_code == 200
    assert ask(without, PEOPLE[:1]).json()["code"] == "missing_scope"


@pytest.mark.parametrize(
    ("team", "role"), [("alpha", "contributor"), ("regulator", "regulator_staff"), ("operator", "operator")]
)
def test_only_analysts_query(cast, client_for, analyst_client, team, role):
    assert ask(client_for(getattr(cast, team)[role]), PEOPLE[:1]).status_code == 403


def test_a_suspended_institution_cannot_query(cast, client_for, analyst_client):
    from accounts import services as accounts

    client = client_for(cast.alpha["analyst"])
    accounts.update_institution(cast.alpha.institution, by=cast.operator["operator"], status="suspended")

    assert ask(client, PEOPLE[:1]).status_code in (401, 403)


def test_old_counters_are_pruned(analyst_client):
    from sharing.matching import quotas
    from sharing.models import UsageCounter

    ask(analyst_client, PEOPLE[:2])
    assert quotas.prune(timezone.now()) == 0
    assert quotas.prune(timezone.now() + timedelta(hours=2)) == 1  # the minute's, not the day's
    assert list(UsageCounter.objects.values_list("period", "subjects")) == [("day", 2)]


def test_the_quota_counts_what_every_web_process_has_answered(cast, analyst_client, settings):
    """Each process counts in a shard of its own; the window's count is the sum over the shards."""
    from sharing.matching import quotas
    from sharing.models import UsageCounter

    settings.MATCH_DAILY_QUOTA = 3
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    another_process = (os.getpid() + 1) % quotas.SHARDS
    UsageCounter.objects.create(
        institution=cast.alpha.institution, period="day", starts_at=today, shard=another_process, subjects=2
    )

    assert ask(analyst_client, PEOPLE[:1]).status_code == 200
    assert ask(analyst_client, PEOPLE[:1]).json()["code"] == "quota_exceeded"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="synchronous_commit is PostgreSQL's")
def test_a_query_commits_as_a_read_does(analyst_client):
    """Within the test's own transaction, the setting a request made is still visible after it."""

    def synchronous_commit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return str(cursor.fetchone()[0])

    assert ask(analyst_client, PEOPLE[:1]).status_code == 200
    assert synchronous_commit() == "off"


@pytest.mark.django_db(transaction=True)
def test_what_a_query_commits_without_a_request_transaction(cast, analyst_client, client_for, gamma, settings):
    """The endpoint runs without a transaction of its own: each write is one statement that commits.

    An answered query has committed its counts and its event; a refused one, nothing at all.
    """
    from tests.factories import UserFactory

    def committed() -> tuple[list[tuple[str, int]], int]:
        counts = sorted(UsageCounter.objects.values_list("period", "subjects"))
        return counts, AuditEvent.objects.filter(action=AuditAction.QUERY).count()

    settings.MATCH_DAILY_QUOTA = 3
    assert ask(analyst_client, PEOPLE[:2]).status_code == 200
    assert committed() == ([("day", 2), ("minute", 2)], 1)

    assert ask(analyst_client, PEOPLE[:2]).json()["code"] == "quota_exceeded"
    idle = UserFactory.create(institution=gamma, roles=["analyst"])
    assert ask(client_for(idle), PEOPLE[:1]).json()["code"] == "not_reciprocal"
    assert committed() == ([("day", 2), ("minute", 2)], 1), "a refused query commits nothing"

    assert ask(analyst_client, PEOPLE[:1]).status_code == 200
    assert committed() == ([("day", 3), ("minute", 3)], 2)


# Several identifiers per subject.

MOBILE = "13800138000"


def identified(correlation_id, *identifiers, form="list"):
    """A subject of (id_type, raw identifier) pairs, in the list form or the flat one."""
    keyed = [(id_type, member_token_of(raw, id_type)) for id_type, raw in identifiers]
    if form == "list":
        return {"correlation_id": correlation_id, "identifiers": [{"id_type": t, "token": k} for t, k in keyed]}
    subject = {"correlation_id": correlation_id}
    for (type_field, token_field), (id_type, member) in zip(PAIRS, keyed, strict=False):
        subject[type_field], subject[token_field] = id_type, member
    return subject


def post(client, subjects, purpose="post_loan_review", **extra):
    return client.post(URL, {"purpose": purpose, "subjects": subjects, **extra})


def by_mobile(reference, raw=MOBILE, **fields):
    return flag_item(reference, id_type="mobile", token=member_token_of(raw, "mobile"), **fields)


@pytest.mark.parametrize("form", ["list", "flat"])
def test_a_flag_filed_under_a_mobile_number_is_found_by_the_resident_id_and_that_mobile(cast, analyst_client, form):
    services.contribute(cast.beta.institution, [by_mobile("B-MOBILE")])

    both = post(analyst_client, [identified("C-0", ("cnid", PEOPLE[0]), ("mobile", MOBILE), form=form)])
    resident_id_only = post(analyst_client, [identified("C-0", ("cnid", PEOPLE[0]), form=form)])

    assert both.status_code == 200, both.json()
    assert both.json()["subjects"][0]["categories"] == [
        {
            "category": "overdue_90",
            "institutions": 1,
            "latest_event_month": "2026-03",
            "disputed": False,
            "resolved": False,
        }
    ]
    assert both.json()["hits"] == 1
    assert resident_id_only.json()["subjects"][0]["hit"] is False


def test_an_institution_and_a_flag_count_once_however_many_tokens_hit(cast, client_for, gamma):
    alpha, beta = cast.alpha.institution, cast.beta.institution
    services.contribute(
        beta,
        [
            flag_item("B-CNID", token=member_token_of(PEOPLE[0])),
            by_mobile("B-MOBILE"),
            flag_item("B-BOTH", token=member_token_of(PEOPLE[0]), **more_identifiers(("mobile", MOBILE))),
        ],
    )
    services.contribute(
        gamma, [flag_item("G-BOTH", token=member_token_of(PEOPLE[0]), **more_identifiers(("mobile", MOBILE)))]
    )
    services.contribute(
        alpha, [flag_item("A-BOTH", token=member_token_of(PEOPLE[0]), **more_identifiers(("mobile", MOBILE)))]
    )

    answer = post(client_for(cast.alpha["analyst"]), [identified("C-0", ("cnid", PEOPLE[0]), ("mobile", MOBILE))])

    subject = answer.json()["subjects"][0]
    assert [(group["category"], group["institutions"]) for group in subject["categories"]] == [("overdue_90", 2)]
    assert [(group["category"], group["flags"]) for group in subject["own"]] == [("overdue_90", 1)]


def test_subjects_of_one_query_may_share_a_token(cast, analyst_client):
    services.contribute(cast.beta.institution, [by_mobile("B-MOBILE")])

    answer = post(
        analyst_client,
        [identified("C-0", ("cnid", PEOPLE[0]), ("mobile", MOBILE)), identified("C-1", ("mobile", MOBILE))],
    )

    assert [subject["hit"] for subject in answer.json()["subjects"]] == [True, True]
    assert answer.json()["hits"] == 2


HOSTILE = [
    # (subject fields besides correlation_id, field of the error, code)
    ({"id_type": "cnid", "token": TOKEN_0, "id_type_2": "cnid", "token_2": TOKEN_1}, "id_type_2", "duplicate_id_type"),
    (
        {"identifiers": [{"id_type": "cnid", "token": TOKEN_0}, {"id_type": "cnid", "token": TOKEN_1}]},
        "identifiers[1].id_type",
        "duplicate_id_type",
    ),
    ({"identifiers": [{"id_type": "cnid", "token": TOKEN_0}] * 6}, "identifiers", "too_many_identifiers"),
    ({"identifiers": [{"id_type": "cnid", "token": "11010519491231002X"}]}, "identifiers[0].token", "bad_token"),
    ({"identifiers": "cnid"}, "identifiers", "bad_identifiers"),
    ({"identifiers": {"id_type": "cnid", "token": TOKEN_0}}, "identifiers", "bad_identifiers"),
    ({"identifiers": 10**400}, "identifiers", "bad_identifiers"),
    ({"identifiers": []}, "identifiers", "required"),
    ({"identifiers": ["cnid"]}, "identifiers[0]", "bad_identifiers"),
    ({"identifiers": [{"id_type": "cnid", "token": TOKEN_0, "raw": "x"}]}, "identifiers[0].raw", "unknown_field"),
    ({"identifiers": [{"id_type": "cnid", "token": TOKEN_0}], "id_type": "cnid"}, "identifiers", "identifier_forms"),
    ({"id_type": "cnid", "token": TOKEN_0, "token_2": TOKEN_1}, "id_type_2", "required"),
    ({"id_type": "cnid", "token": "\x00" * 64}, "token", "unstorable_text"),  # refused as the body is read
    ({"id_type": "cnid", "token": "\ud800" * 64}, "token", "unstorable_text"),
    ({"id_type": "cnid", "token": 10**400}, "token", "bad_token"),
    ({"id_type": ["cnid"], "token": TOKEN_0}, "id_type", "unknown_id_type"),
    ({"id_type": "ssn", "token": TOKEN_0}, "id_type", "unknown_id_type"),
    ({}, "id_type", "required"),
]


@pytest.mark.parametrize(("fields", "field", "code"), HOSTILE)
def test_a_hostile_subject_is_refused_field_by_field(analyst_client, fields, field, code):
    response = analyst_client.post(
        URL,
        json.dumps({"purpose": "collection", "subjects": [{"correlation_id": "C-0", **fields}]}),
        content_type="application/json",
    )

    assert response.status_code == 400, response.content
    assert {"field": f"subjects[0].{field}", "code": code} in [
        {"field": error["field"], "code": error["code"]} for error in response.json()["errors"]
    ]
    assert "11010519491231002X" not in response.content.decode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    identifiers=st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=70), st.sampled_from([TOKEN_0, "cnid"])),
        lambda children: st.one_of(
            st.lists(children, max_size=7), st.dictionaries(st.sampled_from(["id_type", "token", "x"]), children)
        ),
        max_leaves=12,
    )
)
def test_whatever_the_identifiers_hold_the_answer_is_200_or_a_400(analyst_client, identifiers):
    response = analyst_client.post(
        URL,
        json.dumps({"purpose": "collection", "subjects": [{"correlation_id": "C-0", "identifiers": identifiers}]}),
        content_type="application/json",
    )

    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert all(error["field"].startswith("subjects[0].") for error in response.json()["errors"])


# The multi-lender figures.


def reports_loans(institution, when=None):
    ContributedLoans.objects.update_or_create(
        institution=institution, defaults={"last_contributed_at": when or timezone.now()}
    )


@pytest.mark.parametrize("seed", range(3))
def test_the_figures_match_a_generated_dataset_exactly(cast, analyst_client, gamma, seed):
    """Query records over 120 days and loans over 400, by four institutions, on a pool of tokens."""
    delta = InstitutionFactory.create(kind=InstitutionKind.MEMBER)
    members = [cast.alpha.institution, cast.beta.institution, gamma, delta]
    reports_loans(cast.alpha.institution)
    rng = random.Random(seed)
    member_tokens = [rng.randbytes(32).hex() for _ in range(10)]
    keyer = Keyer(peppers())
    by_platform = {keyer(member): member for member in member_tokens}
    today = timezone.localdate()
    records, loans, pairs = generated.generate(members, seed, today, pool=list(by_platform))
    rows = sorted({row for row, _ in pairs})
    subjects = [
        {
            "correlation_id": f"C-{row}",
            "identifiers": [
                {"id_type": id_type, "token": by_platform[token]}
                for id_type, token in zip(ID_TYPES, [token for r, token in pairs if r == row], strict=False)
            ],
        }
        for row in rows
    ]
    want = generated.expected(cast.alpha.institution, records, loans, pairs, today)

    response = post(analyst_client, subjects)

    assert response.status_code == 200, response.json()
    assert response.json()["lending_note"] is None
    got = {int(subject["correlation_id"][2:]): subject["lending"] for subject in response.json()["subjects"]}
    assert got == {row: want.get(row, lending.NONE) for row in rows}
    assert any(figures["institutions_queried_7d"] for figures in want.values())
    assert any(figures["institutions_with_open_loans"] for figures in want.values())


def test_lending_queries_are_counted_for_others_and_for_the_caller_apart(cast, client_for, analyst_client):
    alpha, beta = cast.alpha.institution, cast.beta.institution
    services.contribute(beta, [flag_item("BETA-OWN")])
    reports_loans(alpha)
    reports_loans(beta)
    asked = [identified("C-0", ("cnid", PEOPLE[0]), ("mobile", MOBILE))]
    beta_client = client_for(cast.beta["analyst"])

    first = post(analyst_client, asked, "loan_application", consent_reference="AUTH-1")
    seen_by_beta = post(beta_client, [identified("C-0", ("mobile", MOBILE))], "credit_review", consent_reference="A")
    seen_by_alpha = post(analyst_client, asked, "collection")

    assert first.json()["subjects"][0]["lending"] == lending.NONE, "a query does not count itself"
    assert seen_by_beta.json()["subjects"][0]["lending"] == {**lending.NONE, **QUERIED_BY_ONE}
    assert seen_by_alpha.json()["subjects"][0]["lending"] == {**lending.NONE, **QUERIED_BY_ONE, "own_queries_90d": 1}


QUERIED_BY_ONE = {"institutions_queried_7d": 1, "institutions_queried_30d": 1, "institutions_queried_90d": 1}


def test_the_callers_own_loans_are_shown_apart(cast, analyst_client, gamma):
    reports_loans(cast.alpha.institution)
    token = Keyer(peppers())(member_token_of(PEOPLE[0]))
    today = timezone.localdate()
    make_loan(cast.alpha.institution, [token], today - timedelta(days=30), band="gte_1m", reference="A-1")
    make_loan(cast.beta.institution, [token], today - timedelta(days=100), band="10k_50k", reference="B-1")
    make_loan(gamma, [token], today - timedelta(days=200), today - timedelta(days=10), reference="G-1")

    answer = post(analyst_client, [identified("C-0", ("cnid", PEOPLE[0]))]).json()

    assert answer["subjects"][0]["lending"] == {
        **lending.NONE,
        "institutions_with_open_loans": 1,
        "loans_opened_180d": 1,
        "open_amount_band": "10k_50k",
        "own_open_loans": 1,
        "own_loans_opened_180d": 1,
    }
    assert answer["subjects"][0]["hit"] is False, "loans are no flags"


def test_a_member_without_loan_contributions_gets_its_flags_and_a_note_instead_of_figures(
    cast, client_for, dataset, settings
):
    reports_loans(cast.alpha.institution, timezone.now() - timedelta(days=settings.MATCH_RECIPROCITY_DAYS + 1))
    make_loan(cast.beta.institution, [Keyer(peppers())(member_token_of(PEOPLE[0]))], timezone.localdate())

    response = ask(client_for(cast.alpha["analyst"]), PEOPLE)

    assert response.status_code == 200
    assert response.json()["subjects"] == expected("alpha", {"overdue_90", "identity_theft"})
    assert [subject["lending"] for subject in response.json()["subjects"]] == [None] * len(PEOPLE)
    note = response.json()["lending_note"]
    assert note["code"] == "no_loan_contributions"
    assert "90" in note["message"]


def test_no_figure_reveals_a_lender(cast, analyst_client, gamma):
    reports_loans(cast.alpha.institution)
    token = Keyer(peppers())(member_token_of(PEOPLE[0]))
    make_loan(gamma, [token], timezone.localdate(), reference="GAMMA-LOAN-7")

    text = post(analyst_client, [identified("C-0", ("cnid", PEOPLE[0]))]).content.decode()

    for secret in (gamma.code, "Gamma", "GAMMA-LOAN-7", "AUTH-1", member_token_of(PEOPLE[0])):
        assert secret not in text
    assert set(json.loads(text)["subjects"][0]["lending"]) == set(LENDING_FIGURES)
