"""POST /api/v1/queries: other members' flags on a borrower, by category, never by contributor."""

import json
import os
from collections import defaultdict
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.choices import AuditAction, InstitutionKind, Scope
from accounts.models import AuditEvent
from sharing.flags import services
from sharing.models import ContributedCategory, Flag, UsageCounter
from tests.factories import PEOPLE, InstitutionFactory, contribute_rows, flag_item, member_token_of

pytestmark = pytest.mark.django_db

URL = "/api/v1/queries"


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
