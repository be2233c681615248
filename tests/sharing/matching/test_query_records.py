"""Query records: what an answered lending query leaves behind, and their deletion after two years."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from accounts.choices import AuditAction, InstitutionKind
from accounts.models import AuditEvent
from sharing import tasks
from sharing.flags import services
from sharing.keys.tokens import Keyer, peppers
from sharing.matching import records
from sharing.models import ContributedCategory, QueryRecord
from tests.factories import PEOPLE, InstitutionFactory, UserFactory, flag_item, member_token_of

pytestmark = pytest.mark.django_db

URL = "/api/v1/queries"
SHANGHAI = ZoneInfo("Asia/Shanghai")
MOBILE = "13800138000"


def subject(n=0, *identifiers):
    """A subject of the given (id_type, raw) identifiers, by default the resident ID PEOPLE[n]."""
    identifiers = identifiers or (("cnid", PEOPLE[n]),)
    listed = [{"id_type": id_type, "token": member_token_of(raw, id_type)} for id_type, raw in identifiers]
    return {"correlation_id": f"C-{n}", "identifiers": listed}


def ask(client, subjects, purpose="loan_application"):
    body = {"purpose": purpose, "subjects": subjects}
    if purpose in ("loan_application", "credit_review"):
        body["consent_reference"] = "AUTH-2026-0042"
    return client.post(URL, body)


@pytest.fixture
def analyst_client(cast, client_for):
    services.contribute(cast.alpha.institution, [flag_item("ALPHA-OWN")])
    return client_for(cast.alpha["analyst"])


def stored():
    return sorted(
        (bytes(token), day, institution, purpose)
        for token, day, institution, purpose in QueryRecord.objects.values_list(
            "token", "day", "institution_id", "purpose"
        )
    )


def platform(raw, id_type="cnid"):
    """The platform token of a raw identifier, as the endpoint keys it."""
    return Keyer(peppers())(member_token_of(raw, id_type))


@pytest.mark.parametrize("purpose", ["loan_application", "credit_review"])
def test_a_lending_query_leaves_a_record_per_token_of_each_subject(cast, analyst_client, purpose):
    response = ask(analyst_client, [subject(0, ("cnid", PEOPLE[0]), ("mobile", MOBILE)), subject(1)], purpose)

    assert response.status_code == 200, response.json()
    today = timezone.localdate()
    alpha = cast.alpha.institution.pk
    assert stored() == sorted(
        [
            (platform(PEOPLE[0]), today, alpha, purpose),
            (platform(MOBILE, "mobile"), today, alpha, purpose),
            (platform(PEOPLE[1]), today, alpha, purpose),
        ]
    )
    assert set(QueryRecord.objects.values_list("pepper_version", flat=True)) == {1}


@pytest.mark.parametrize("purpose", ["post_loan_review", "collection", "fraud_investigation"])
def test_other_purposes_leave_no_record(analyst_client, purpose):
    assert ask(analyst_client, [subject(0)], purpose).status_code == 200

    assert not QueryRecord.objects.exists()


def test_the_same_query_on_the_same_day_adds_nothing(cast, analyst_client):
    ask(analyst_client, [subject(0), subject(0)])
    ask(analyst_client, [subject(0)])
    ask(analyst_client, [subject(0)], "credit_review")

    assert sorted(QueryRecord.objects.values_list("purpose", flat=True)) == ["credit_review", "loan_application"]


def test_a_query_refused_for_reciprocity_leaves_no_record(cast, client_for):
    idle = UserFactory.create(institution=InstitutionFactory.create(kind=InstitutionKind.MEMBER), roles=["analyst"])

    assert ask(client_for(idle), [subject(0)]).json()["code"] == "not_reciprocal"
    assert not QueryRecord.objects.exists()


def test_a_query_over_its_quota_or_rate_leaves_no_record(analyst_client, settings):
    settings.MATCH_DAILY_QUOTA = 1

    assert ask(analyst_client, [subject(0), subject(1)]).json()["code"] == "quota_exceeded"
    assert not QueryRecord.objects.exists()
    settings.MATCH_DAILY_QUOTA = 100
    settings.MATCH_RATE_PER_MINUTE = 1
    assert ask(analyst_client, [subject(2), subject(3)]).json()["code"] == "rate_exceeded"
    assert not QueryRecord.objects.exists()


def test_a_query_refused_as_invalid_leaves_no_record(analyst_client):
    missing_consent = analyst_client.post(URL, {"purpose": "loan_application", "subjects": [subject(0)]})

    assert missing_consent.status_code == 400
    assert not QueryRecord.objects.exists()


def test_a_record_is_deleted_by_the_retention_run_two_years_on(cast, analyst_client):
    with time_machine.travel(datetime(2024, 2, 29, 10, 0, tzinfo=SHANGHAI)):
        ContributedCategory.objects.update(last_contributed_at=timezone.now())
        assert ask(analyst_client, [subject(0)]).status_code == 200
    with time_machine.travel(datetime(2024, 3, 1, 10, 0, tzinfo=SHANGHAI)):
        ContributedCategory.objects.update(last_contributed_at=timezone.now())
        assert ask(analyst_client, [subject(1)]).status_code == 200
    assert QueryRecord.objects.count() == 2

    with time_machine.travel(datetime(2026, 2, 28, 23, 59, tzinfo=SHANGHAI)):
        tasks.apply_retention()
        assert QueryRecord.objects.count() == 2, "two years have not passed yet"
    with time_machine.travel(datetime(2026, 3, 1, 0, 1, tzinfo=SHANGHAI)):
        tasks.apply_retention()

    assert not QueryRecord.objects.exists(), "29 February 2024's and 1 March 2024's records go on 1 March 2026"
    event = AuditEvent.objects.get(action=AuditAction.QUERY_RECORD_DELETE)
    assert (event.subjects_count, event.institution_id, event.actor_type) == (2, None, "system")


def test_a_run_that_deletes_nothing_records_no_event():
    QueryRecord.objects.create(
        token=b"t" * 32,
        day=date(2026, 1, 1),
        institution=InstitutionFactory.create(kind=InstitutionKind.MEMBER),
        purpose="credit_review",
        pepper_version=1,
    )

    assert records.apply_retention(date(2027, 12, 31)) == 0
    assert records.apply_retention(date(2028, 1, 1)) == 1
    assert AuditEvent.objects.filter(action=AuditAction.QUERY_RECORD_DELETE).count() == 1


@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
    later=st.integers(min_value=0, max_value=3 * 366),
)
def test_a_record_goes_exactly_on_the_day_two_calendar_years_on(day, later):
    today = day + timedelta(days=later)

    assert (day <= records.last_expired(today)) == (records.expires_on(day) <= today)
    assert records.expires_on(day) == (
        date(day.year + 2, 3, 1) if (day.month, day.day) == (2, 29) else day.replace(year=day.year + 2)
    )
