"""An institution admin issues, edits and revokes its own institution's API keys."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey

pytestmark = pytest.mark.django_db


def issue(client, **body):
    return client.post("/api/v1/api-keys", {"name": "loan system", "scopes": ["match"], **body})


def test_issued_key_is_shown_once_and_works(cast, client_for):
    admin = client_for(cast.alpha["institution_admin"])

    response = issue(admin, scopes=["match", "flags:write"], allowed_networks=["127.0.0.1/32"])

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["key"].startswith(body["prefix"] + ".")
    assert body["prefix"].startswith("rs_")
    assert body["scopes"] == ["flags:write", "match"]
    assert body["created_by"] == "alpha-institution_admin"

    system = APIClient()
    system.credentials(HTTP_AUTHORIZATION=f"Api-Key {body['key']}")
    assert system.get("/api/v1/me").json()["institution"]["code"] == cast.alpha.institution.code

    again = admin.get(f"/api/v1/api-keys/{body['id']}").json()
    assert "key" not in again
    assert body["key"] not in str(admin.get("/api/v1/api-keys").json())


def test_admin_lists_only_its_own_keys(cast, client_for):
    issue(client_for(cast.alpha["institution_admin"]), name="alpha system")
    issue(client_for(cast.beta["institution_admin"]), name="beta system")

    rows = client_for(cast.alpha["institution_admin"]).get("/api/v1/api-keys").json()["results"]

    assert [row["name"] for row in rows] == ["alpha system"]


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("patch", ""), ("post", "/revoke")])
def test_another_institutions_key_answers_404(cast, client_for, method, suffix):
    beta_key = issue(client_for(cast.beta["institution_admin"])).json()

    url = f"/api/v1/api-keys/{beta_key['id']}{suffix}"
    response = getattr(client_for(cast.alpha["institution_admin"]), method)(url, {"name": "stolen"})

    assert response.status_code == 404
    stored = ApiKey.objects.get(pk=beta_key["id"])
    assert stored.name == "loan system"
    assert stored.revoked_at is None


def test_revoked_key_stops_working_and_stays_revoked(cast, client_for):
    admin = client_for(cast.alpha["institution_admin"])
    body = issue(admin).json()

    revoked = admin.post(f"/api/v1/api-keys/{body['id']}/revoke").json()

    assert revoked["revoked_at"] is not None
    assert revoked["revoked_by"] == "alpha-institution_admin"
    system = APIClient()
    system.credentials(HTTP_AUTHORIZATION=f"Api-Key {body['key']}")
    assert system.get("/api/v1/me").json()["code"] == "api_key_revoked"
    edit = admin.patch(f"/api/v1/api-keys/{body['id']}", {"name": "back again"})
    assert edit.status_code == 400
    assert edit.json()["errors"][0]["code"] == "api_key_revoked"


def test_scopes_a_regulator_cannot_hold_are_refused(cast, client_for):
    response = issue(client_for(cast.regulator["institution_admin"]), scopes=["reports:read", "flags:write"])

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "scopes"
    assert response.json()["errors"][0]["code"] == "scope_not_allowed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["everything"]}, "scopes[0]"),
        ({"allowed_networks": ["not-an-ip"]}, "allowed_networks[0]"),
        ({"allowed_networks": ["10.0.0.1/8"]}, "allowed_networks[0]"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_key_requests_name_the_field(cast, client_for, body, field):
    response = issue(client_for(cast.alpha["institution_admin"]), **body)

    assert response.status_code == 400
    assert field in {error["field"] for error in response.json()["errors"]}
    assert not ApiKey.objects.exists()


def test_admin_narrows_a_keys_scopes_and_sets_an_expiry(cast, client_for):
    admin = client_for(cast.alpha["institution_admin"])
    body = issue(admin, scopes=["match", "inspections"]).json()
    expiry = (timezone.now() + timedelta(days=30)).isoformat()

    edited = admin.patch(f"/api/v1/api-keys/{body['id']}", {"scopes": ["inspections"], "expires_at": expiry})

    assert edited.status_code == 200
    assert edited.json()["scopes"] == ["inspections"]
    assert ApiKey.objects.get(pk=body["id"]).expires_at is not None


def test_an_expired_key_cannot_be_given_new_life(cast, client_for):
    admin = client_for(cast.alpha["institution_admin"])
    body = issue(admin).json()
    ApiKey.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(minutes=1))

    response = admin.patch(f"/api/v1/api-keys/{body['id']}", {"expires_at": None}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "api_key_expired"
    assert ApiKey.objects.get(pk=body["id"]).expires_at is not None
