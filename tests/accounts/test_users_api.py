"""An institution admin manages the people of their own institution, and only those."""

import pytest

from accounts.models import User

pytestmark = pytest.mark.django_db

STRONG = "correct horse battery staple 42"


def test_admin_lists_only_the_people_of_its_institution(cast, client_for, django_assert_max_num_queries):
    client = client_for(cast.alpha["institution_admin"])
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/users")

    assert response.status_code == 200
    names = [row["username"] for row in response.json()["results"]]
    assert names == sorted(user.username for user in cast.alpha.people.values())
    assert "password" not in response.json()["results"][0]


@pytest.mark.parametrize("method", ["get", "patch"])
def test_another_institutions_person_answers_404(cast, client_for, method):
    url = f"/api/v1/users/{cast.beta['analyst'].pk}"
    response = getattr(client_for(cast.alpha["institution_admin"]), method)(url, {"is_active": False})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    cast.beta["analyst"].refresh_from_db()
    assert cast.beta["analyst"].is_active


def test_admin_creates_a_person_who_can_then_sign_in(cast, client_for):
    response = client_for(cast.alpha["institution_admin"]).post(
        "/api/v1/users",
        {"username": "new-analyst", "email": "new@example.com", "roles": ["analyst"], "password": STRONG},
    )

    assert response.status_code == 201, response.content
    person = User.objects.get(username="new-analyst")
    assert person.institution == cast.alpha.institution
    assert person.roles == ["analyst"]
    assert person.password.startswith("argon2")
    assert person.check_password(STRONG)


def test_roles_that_do_not_exist_at_the_institution_are_refused(cast, client_for):
    response = client_for(cast.alpha["institution_admin"]).post(
        "/api/v1/users", {"username": "x", "email": "x@example.com", "roles": ["regulator_staff"], "password": STRONG}
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "roles", "code": "role_not_allowed", "message": response.json()["errors"][0]["message"]}
    ]


def test_weak_password_is_refused_with_reasons(cast, client_for):
    response = client_for(cast.alpha["institution_admin"]).post(
        "/api/v1/users", {"username": "x", "email": "x@example.com", "roles": ["analyst"], "password": "12345678"}
    )

    assert response.status_code == 400
    assert {error["field"] for error in response.json()["errors"]} == {"password"}
    assert not User.objects.filter(username="x").exists()


def test_every_invalid_field_is_reported_at_once(cast, client_for):
    response = client_for(cast.alpha["institution_admin"]).post(
        "/api/v1/users", {"username": "", "email": "not-an-email", "roles": ["nonsense"]}
    )

    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"username", "email", "roles[0]"} <= fields


def test_admin_changes_roles_and_deactivates(cast, client_for):
    client = client_for(cast.alpha["institution_admin"])
    url = f"/api/v1/users/{cast.alpha['analyst'].pk}"

    assert client.patch(url, {"roles": ["analyst", "contributor"]}).json()["roles"] == ["analyst", "contributor"]
    assert client.patch(url, {"is_active": False}).json()["is_active"] is False
    assert client_for(cast.alpha["analyst"]).get("/api/v1/me").status_code == 401


def test_username_cannot_be_changed(cast, client_for):
    url = f"/api/v1/users/{cast.alpha['analyst'].pk}"
    response = client_for(cast.alpha["institution_admin"]).patch(url, {"username": "renamed"})

    assert response.status_code == 200
    assert response.json()["username"] == "alpha-analyst"
    cast.alpha["analyst"].refresh_from_db()
    assert cast.alpha["analyst"].username == "alpha-analyst"


def test_admin_cannot_lock_themself_out(cast, client_for):
    admin = cast.alpha["institution_admin"]
    client = client_for(admin)
    url = f"/api/v1/users/{admin.pk}"

    deactivate = client.patch(url, {"is_active": False}).json()["errors"]
    demote = client.patch(url, {"roles": ["analyst"]}).json()["errors"]

    assert [(e["field"], e["code"]) for e in deactivate + demote] == [
        ("is_active", "self_lockout"),
        ("roles", "self_lockout"),
    ]
    admin.refresh_from_db()
    assert admin.is_active
    assert admin.roles == ["institution_admin"]


def test_an_admin_cannot_set_a_colleagues_password(cast, client_for):
    colleague = cast.alpha["analyst"]
    colleague.set_password("the colleague's own passphrase")
    colleague.save()

    response = client_for(cast.alpha["institution_admin"]).patch(f"/api/v1/users/{colleague.pk}", {"password": STRONG})

    assert response.status_code == 200
    colleague.refresh_from_db()
    assert colleague.check_password("the colleague's own passphrase")
    assert not colleague.check_password(STRONG)


def test_only_operators_give_the_operator_role(cast, client_for):
    operator_admin = User.objects.create(
        institution=cast.operator.institution,
        username="ops-admin",
        email="o@example.com",
        roles=["institution_admin"],
    )
    client = client_for(operator_admin)

    created = client.post(
        "/api/v1/users", {"username": "ops-2", "email": "o2@example.com", "roles": ["operator"], "password": STRONG}
    )
    promoted = client.patch(f"/api/v1/users/{operator_admin.pk}", {"roles": ["institution_admin", "operator"]})

    for response in (created, promoted):
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "role_not_grantable"
    assert not User.objects.filter(username="ops-2").exists()
    operator_admin.refresh_from_db()
    assert operator_admin.roles == ["institution_admin"]
    assert not operator_admin.is_staff


def test_session_writes_need_the_csrf_token(cast):
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(cast.alpha["institution_admin"])

    response = browser.patch(f"/api/v1/users/{cast.alpha['analyst'].pk}", {"is_active": False})

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    cast.alpha["analyst"].refresh_from_db()
    assert cast.alpha["analyst"].is_active
