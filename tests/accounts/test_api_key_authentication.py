"""A member system authenticates with ``Authorization: Api-Key <key>``."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.test import APIClient

from accounts import services
from accounts.authentication import ApiKeyCaller
from accounts.choices import SCOPES_BY_KIND, InstitutionKind, InstitutionStatus, Role, Scope
from accounts.models import ApiKey
from accounts.permissions import Allow, check

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:riskshare:problem:{code}"
    assert body["title"]
    assert body["detail"]
    assert "Traceback" not in response.content.decode()


def test_valid_key_is_accepted_and_answers_for_its_institution(cast, key_client):
    client, key = key_client(cast.alpha.institution, [Scope.MATCH, Scope.FLAGS_WRITE])

    response = client.get("/api/v1/me")

    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "api_key"
    assert body["institution"]["code"] == cast.alpha.institution.code
    assert body["scopes"] == ["flags:write", "match"]
    assert body["api_key"] == {"name": key.name, "prefix": key.prefix}


def test_key_use_is_recorded_as_last_used(cast, key_client, django_capture_on_commit_callbacks):
    client, key = key_client(cast.alpha.institution)
    assert key.last_used_at is None

    with django_capture_on_commit_callbacks(execute=True):
        client.get("/api/v1/me")

    used = ApiKey.objects.get(pk=key.pk).last_used_at
    assert used is not None
    assert timezone.now() - used < timedelta(seconds=30)


def test_secret_is_stored_only_as_a_digest(cast):
    key, secret = services.issue_api_key(institution=cast.alpha.institution, name="x", scopes=[Scope.MATCH])

    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert secret.startswith(key.prefix + ".")
    assert not any(secret.split(".")[1] in str(value) for value in stored.values())
    assert stored["hashed_secret"] == ApiKey.digest(secret)


def test_rejects_revoked_api_key(cast, key_client):
    client, key = key_client(cast.alpha.institution)
    services.revoke_api_key(key)

    assert_problem(client.get("/api/v1/me"), 401, "api_key_revoked")


def test_rejects_expired_api_key(cast, key_client):
    client, key = key_client(cast.alpha.institution)
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert_problem(client.get("/api/v1/me"), 401, "api_key_expired")


def test_key_that_has_not_expired_yet_is_accepted(cast, key_client):
    client, _key = key_client(cast.alpha.institution, expires_at=timezone.now() + timedelta(hours=1))

    assert client.get("/api/v1/me").status_code == 200


def test_keys_cannot_do_what_only_people_may(cast, key_client):
    client, _key = key_client(cast.alpha.institution, sorted(SCOPES_BY_KIND[InstitutionKind.MEMBER]))

    # Managing people and keys needs a person with the admin role; no scope opens it to a key.
    assert_problem(client.get("/api/v1/users"), 403, "people_only")
    assert_problem(client.post("/api/v1/api-keys", {"name": "x", "scopes": ["match"]}), 403, "people_only")


@pytest.mark.parametrize(
    ("scopes", "allowed"), [(["match"], True), (["match", "inspections"], True), (["flags:write"], False)]
)
def test_a_key_needs_the_scope_a_rule_names(cast, scopes, allowed):
    key, _secret = services.issue_api_key(institution=cast.alpha.institution, name="x", scopes=scopes)
    rule = Allow.people(Role.ANALYST, scope=Scope.MATCH)

    if allowed:
        check(ApiKeyCaller(key), rule)
    else:
        with pytest.raises(exceptions.PermissionDenied) as refused:
            check(ApiKeyCaller(key), rule)
        assert refused.value.get_codes() == "missing_scope"


def test_rejects_key_used_from_an_address_outside_its_allow_list(cast, key_client):
    client, _key = key_client(cast.alpha.institution, allowed_networks=["203.0.113.0/24"])

    assert_problem(client.get("/api/v1/me", REMOTE_ADDR="198.51.100.7"), 403, "address_not_allowed")
    assert client.get("/api/v1/me", REMOTE_ADDR="203.0.113.9").status_code == 200


def test_allow_list_trusts_forwarded_for_only_as_far_as_configured_proxies(cast, key_client, settings):
    client, _key = key_client(cast.alpha.institution, allowed_networks=["203.0.113.9/32"])
    forged = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}

    settings.NUM_PROXIES = 0
    assert_problem(client.get("/api/v1/me", **forged), 403, "address_not_allowed")

    settings.NUM_PROXIES = 1  # One proxy in front: it appended the real client address last.
    assert client.get("/api/v1/me", **forged).status_code == 200
    spoofed = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.7"}
    assert_problem(client.get("/api/v1/me", **spoofed), 403, "address_not_allowed")


def test_rejects_keys_of_a_suspended_institution(cast, key_client):
    client, _key = key_client(cast.alpha.institution)
    services.update_institution(
        cast.alpha.institution, by=cast.operator["operator"], status=InstitutionStatus.SUSPENDED
    )

    assert_problem(client.get("/api/v1/me"), 403, "institution_suspended")


@pytest.mark.parametrize(
    "header",
    [
        "Api-Key rs_nosuchkey.abcdefghijklmnopqrstuvwxyz",
        "Api-Key not-a-key-at-all",
    ],
)
def test_rejects_unknown_keys_without_saying_why(cast, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    assert_problem(client.get("/api/v1/me"), 401, "invalid_api_key")


def test_right_prefix_with_wrong_secret_gets_the_same_answer_as_an_unknown_key(cast, key_client):
    _client, key = key_client(cast.alpha.institution)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key.prefix}.{'x' * 43}")

    assert_problem(client.get("/api/v1/me"), 401, "invalid_api_key")


def test_malformed_authorization_header_is_explained(cast):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Api-Key one two")

    assert_problem(client.get("/api/v1/me"), 401, "malformed_api_key")


def test_no_credentials_answers_401_with_the_api_key_challenge(anonymous, db):
    response = anonymous.get("/api/v1/me")

    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


def test_the_key_lookup_reads_a_key_and_its_institution_as_the_orm_does(cast):
    from accounts.authentication import INSTITUTION_FIELDS, KEY_FIELDS, key_by_prefix

    key, _secret = services.issue_api_key(
        institution=cast.alpha.institution,
        name="lookup",
        scopes=[Scope.MATCH, Scope.INSPECTIONS],
        allowed_networks=["10.0.0.0/8"],
        expires_at=timezone.now() + timedelta(days=3),
    )
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(minutes=5))
    expected = ApiKey.objects.select_related("institution").get(pk=key.pk)

    found = key_by_prefix(key.prefix)

    assert found is not None
    assert [getattr(found, name) for name in KEY_FIELDS] == [getattr(expected, name) for name in KEY_FIELDS]
    assert [getattr(found.institution, name) for name in INSTITUTION_FIELDS] == [
        getattr(expected.institution, name) for name in INSTITUTION_FIELDS
    ]
    assert found.name == "lookup"  # a field left out loads when asked for
    assert key_by_prefix("rs_nosuch00") is None
