"""The foundation's actions each leave exactly the expected audit event, and failures leave none."""

import pytest
from django.db import connection, transaction
from django.test import Client

from accounts.audit import record
from accounts.choices import ActorType, AuditAction, AuditOutcome, Scope
from accounts.models import ApiKey, AuditEvent, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

STRONG = "correct horse battery staple 42"


def events(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


def events_after_sign_in() -> list[AuditEvent]:
    """What a signed-in test client did, leaving out its own sign-in (force_login records one)."""
    return events(action__in=set(AuditAction.values) - {AuditAction.LOGIN})


def only_event() -> AuditEvent:
    [event] = events()
    return event


def test_sign_in_leaves_one_login_event(analyst):
    Client().post("/sign-in/", {"username": analyst.username, "password": PASSWORD}, REMOTE_ADDR="192.0.2.10")

    event = only_event()
    assert (event.action, event.outcome, event.actor_type) == (AuditAction.LOGIN, AuditOutcome.SUCCESS, "person")
    assert (event.actor_user, event.institution) == (analyst, analyst.institution)
    assert event.source_address == "192.0.2.10"
    assert len(event.request_id) == 32


def test_failed_sign_in_names_the_person_but_never_the_typed_password(analyst):
    Client().post("/sign-in/", {"username": analyst.username, "password": "Wrong-Password-123"})

    event = only_event()
    assert (event.action, event.outcome, event.reason) == (AuditAction.LOGIN_FAILED, "denied", "bad_credentials")
    assert event.actor_user == analyst
    assert "Wrong-Password-123" not in str(AuditEvent.objects.filter(pk=event.pk).values().get())


def test_failed_sign_in_with_an_unknown_name_stores_nothing_typed(db):
    typed = "11010519491231002X"  # what a careless person might type: an ID number
    Client().post("/sign-in/", {"username": typed, "password": "whatever"})

    event = only_event()
    assert (event.action, event.actor_type, event.institution) == (AuditAction.LOGIN_FAILED, ActorType.ANONYMOUS, None)
    assert typed not in str(AuditEvent.objects.filter(pk=event.pk).values().get())


def test_sign_out_is_recorded(analyst):
    client = Client()
    client.post("/sign-in/", {"username": analyst.username, "password": PASSWORD})
    client.post("/sign-out/")

    assert [event.action for event in events()] == [AuditAction.LOGIN, AuditAction.LOGOUT]


def test_issuing_and_revoking_a_key_each_leave_one_event(cast, client_for):
    admin = cast.alpha["institution_admin"]
    client = client_for(admin)

    issued = client.post("/api/v1/api-keys", {"name": "loan system", "scopes": ["match"]}).json()
    client.post(f"/api/v1/api-keys/{issued['id']}/revoke")

    issue, revoke = events_after_sign_in()
    for event, action in ((issue, AuditAction.APIKEY_ISSUE), (revoke, AuditAction.APIKEY_REVOKE)):
        assert (event.action, event.actor_user, event.institution) == (action, admin, admin.institution)
        assert (event.target_type, event.target_id) == ("apikey", str(issued["id"]))
    secret = issued["key"].split(".")[1]
    assert not any(secret in str(row) for row in AuditEvent.objects.values())


def test_creating_a_person_leaves_one_event(cast, client_for):
    client_for(cast.alpha["institution_admin"]).post(
        "/api/v1/users", {"username": "new-analyst", "email": "n@example.com", "roles": ["analyst"], "password": STRONG}
    )

    [event] = events_after_sign_in()
    assert event.action == AuditAction.USER_CREATE
    assert event.target_id == str(User.objects.get(username="new-analyst").pk)


def test_a_key_reading_who_it_is_is_recorded_as_the_key(cast, key_client):
    client, key = key_client(cast.beta.institution, [Scope.MATCH])

    client.get("/api/v1/me")

    event = only_event()
    assert (event.action, event.actor_type, event.actor_key, event.actor_name) == (
        AuditAction.ME_VIEW,
        ActorType.API_KEY,
        key,
        key.prefix,
    )
    assert event.institution == cast.beta.institution


def test_a_refused_request_leaves_no_change_and_no_event(cast, client_for):
    response = client_for(cast.alpha["institution_admin"]).post(
        "/api/v1/users", {"username": "x", "email": "x@example.com", "roles": ["analyst"], "password": "123"}
    )

    assert response.status_code == 400
    assert not User.objects.filter(username="x").exists()
    assert events_after_sign_in() == []


def test_an_action_that_rolls_back_takes_its_event_with_it(cast):
    admin = cast.alpha["institution_admin"]
    key = ApiKey.objects.create(institution=admin.institution, name="x", prefix="rs_rollback", scopes=["match"])

    def revoke_then_fail() -> None:
        with transaction.atomic():
            record(AuditAction.APIKEY_REVOKE, actor=admin, target=key)
            raise RuntimeError("the action failed after recording")

    with pytest.raises(RuntimeError):
        revoke_then_fail()

    assert events() == []


@pytest.mark.django_db(transaction=True)  # each atomic block below is a real transaction
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="synchronous_commit is PostgreSQL's")
@pytest.mark.parametrize(("durable", "setting"), [(True, "on"), (False, "off")])
def test_only_reads_commit_without_waiting_for_the_log_flush(cast, durable, setting):
    def synchronous_commit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return str(cursor.fetchone()[0])

    with transaction.atomic():
        record(AuditAction.ME_VIEW, actor=cast.alpha["analyst"], durable=durable)
        assert synchronous_commit() == setting
    with transaction.atomic():
        assert synchronous_commit() == "on"  # SET LOCAL: it ended with the transaction


def test_reads_and_changes_through_the_api_record_the_same_fields(cast, client_for):
    client = client_for(cast.alpha["institution_admin"])
    client.get("/api/v1/users")
    client.post("/api/v1/api-keys", {"name": "x", "scopes": ["match"]})

    read, change = events_after_sign_in()
    for event in (read, change):
        assert (event.actor_user, event.institution, event.actor_type) == (
            cast.alpha["institution_admin"],
            cast.alpha.institution,
            "person",
        )
        assert event.occurred_at is not None
        assert len(event.request_id) == 32
    assert (read.action, change.action) == (AuditAction.USER_LIST, AuditAction.APIKEY_ISSUE)


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="PostgreSQL always has RETURNING")
def test_recording_works_without_insert_returning(cast, monkeypatch):
    """Older SQLite (before 3.35) has no RETURNING: the id comes from the cursor instead."""
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)

    event = record(AuditAction.ME_VIEW, actor=cast.alpha["analyst"])

    assert event is not None
    assert AuditEvent.objects.get(pk=event.pk).actor_user == cast.alpha["analyst"]
