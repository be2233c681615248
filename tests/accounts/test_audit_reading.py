"""Who reads which audit events, through the API and the portal."""

from datetime import UTC, timedelta

import pytest
from django.test import Client

from accounts.audit import record
from accounts.choices import AuditAction, Scope
from accounts.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(cast):
    """Two events at each member, made before anyone reads."""
    for team in (cast.alpha, cast.beta):
        record(AuditAction.ME_VIEW, actor=team["analyst"])
        record(AuditAction.APIKEY_ISSUE, actor=team["institution_admin"])
    return cast


def api_events(client, **params):
    response = client.get("/api/v1/audit/events", params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_auditors_see_only_their_own_institutions_events(trail, client_for):
    rows = api_events(client_for(trail.alpha["auditor"]))

    assert {row["institution"] for row in rows} == {trail.alpha.institution.pk}
    assert AuditEvent.objects.filter(institution=trail.beta.institution).exists()


def test_another_institutions_event_answers_404(trail, client_for):
    beta_event = AuditEvent.objects.filter(institution=trail.beta.institution).first()
    assert beta_event is not None

    response = client_for(trail.alpha["auditor"]).get(f"/api/v1/audit/events/{beta_event.pk}/proof")

    assert response.status_code == 404


def test_regulator_staff_see_every_institution(trail, client_for):
    rows = api_events(client_for(trail.regulator["regulator_staff"]), page_size=100)

    assert {trail.alpha.institution.pk, trail.beta.institution.pk} <= {row["institution"] for row in rows}


def test_keys_with_audit_read_see_their_institution(trail, key_client):
    client, _key = key_client(trail.beta.institution, [Scope.AUDIT_READ])

    assert {row["institution"] for row in api_events(client)} == {trail.beta.institution.pk}


def test_filters_by_action_actor_and_time(trail, client_for):
    auditor = client_for(trail.alpha["auditor"])

    issued = api_events(auditor, action="apikey.issue")
    by_actor = api_events(auditor, actor="alpha-analyst")
    later = api_events(auditor, since="2999-01-01T00:00:00Z")

    assert [row["actor_name"] for row in issued] == ["alpha-institution_admin"]
    assert {row["action"] for row in by_actor} == {"me.view"}
    assert later == []


def test_reading_the_trail_is_itself_recorded(trail, client_for):
    api_events(client_for(trail.alpha["auditor"]))

    assert AuditEvent.objects.filter(action=AuditAction.AUDIT_LIST, actor_user=trail.alpha["auditor"]).exists()


def test_list_is_newest_first_in_cursor_pages(trail, client_for, django_assert_max_num_queries):
    auditor = client_for(trail.regulator["regulator_staff"])
    with django_assert_max_num_queries(8):
        first = auditor.get("/api/v1/audit/events", {"page_size": 2}).json()
    second = auditor.get(first["next"]).json()

    ids = [row["id"] for row in first["results"] + second["results"]]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 4


def test_portal_page_shows_the_auditor_their_trail_with_filters(trail):
    client = Client(headers={"accept-language": "en"})
    client.force_login(trail.alpha["auditor"])

    page = client.get("/audit/", {"action": "apikey.issue"})

    assert page.status_code == 200
    assert [(event.action, event.actor_name) for event in page.context["events"]] == [
        ("apikey.issue", "alpha-institution_admin")
    ]
    assert '<td title="apikey.issue">Issued an API key</td>' in page.text
    assert "beta-institution_admin" not in page.text


def test_portal_page_is_refused_to_people_without_the_role(trail):
    client = Client()
    client.force_login(trail.alpha["analyst"])

    assert client.get("/audit/").status_code == 403


def test_portal_page_pages_back_through_older_events(trail, monkeypatch):
    monkeypatch.setattr("portal.audit.AUDIT_PAGE_SIZE", 2)
    client = Client()
    client.force_login(trail.regulator["regulator_staff"])

    first = client.get("/audit/")
    older = first.context["older"]
    second = client.get("/audit/", {"before": older})

    shown = [event.pk for event in first.context["events"]] + [event.pk for event in second.context["events"]]
    assert shown == sorted(shown, reverse=True)
    assert len(set(shown)) == 4


# Date-times Python parses but the database cannot take: an offset no time zone has (PostgreSQL
# refuses past ±15:59), and instants whose UTC value falls outside years 1 to 9999.
UNSTORABLE_TIMES = ["2026-01-01T00:00:00+19:00", "2026-01-01T00:00:00-16:00", "0001-01-01T00:00:00+01:00"]


@pytest.mark.parametrize("since", UNSTORABLE_TIMES)
def test_a_time_the_database_cannot_take_is_a_field_error_not_a_500(trail, client_for, since):
    response = client_for(trail.alpha["auditor"]).get("/api/v1/audit/events", {"since": since, "until": since})

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert {error["field"] for error in response.json()["errors"]} == {"since", "until"}


def test_an_offset_within_the_range_is_read_as_the_instant_it_names(trail, client_for):
    auditor = client_for(trail.alpha["auditor"])
    newest = AuditEvent.objects.filter(institution=trail.alpha.institution).latest("occurred_at").occurred_at

    # The same instant written with an offset of +15:30: nothing at or after a second later.
    just_after = (newest.astimezone(UTC) + timedelta(hours=15, minutes=30, seconds=1)).replace(tzinfo=None)
    later = api_events(auditor, since=just_after.isoformat() + "+15:30", action="me.view")

    assert later == []
    assert api_events(auditor, until=just_after.isoformat() + "+15:30", action="me.view") != []


@pytest.mark.parametrize("since", UNSTORABLE_TIMES)
def test_the_portal_page_says_the_time_is_invalid_and_lists_nothing(trail, since):
    client = Client(headers={"accept-language": "en"})
    client.force_login(trail.alpha["auditor"])

    page = client.get("/audit/", {"since": since})

    assert page.status_code == 200
    assert page.context["form"].errors.keys() == {"since"}
    assert list(page.context["events"]) == []
    assert 'class="error" role="alert"' in page.text
