"""The portal's people and API key pages: an institution admin's own institution, and only theirs."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.choices import AuditAction, Scope
from accounts.models import ApiKey, AuditEvent, User
from portal.people_forms import PersonForm

pytestmark = pytest.mark.django_db

STRONG = "correct horse battery staple 42"
NOT_ADMINS = [
    ("alpha", "contributor"),
    ("alpha", "analyst"),
    ("alpha", "auditor"),
    ("regulator", "regulator_staff"),
    ("operator", "operator"),
]


@pytest.fixture
def signed_in():
    """A browser (English pages) with ``person`` signed in."""

    def make(person: User, enforce_csrf_checks: bool = False) -> Client:
        client = Client(enforce_csrf_checks=enforce_csrf_checks, headers={"accept-language": "en"})
        client.force_login(person)
        return client

    return make


@pytest.fixture
def beta_key(cast):
    key, _secret = services.issue_api_key(institution=cast.beta.institution, name="beta system", scopes=[Scope.MATCH])
    return key


def events(action: AuditAction, **where: object) -> int:
    return AuditEvent.objects.filter(action=action, **where).count()


def add_person(client: Client, **fields: object):
    data = {"username": "new-analyst", "email": "new@example.com", "roles": ["analyst"], "password": STRONG}
    return client.post("/people/", {**data, **fields})


def shown(person: User) -> str:
    """The version of ``person`` a page opened now shows (the form's hidden ``shown`` field)."""
    return str(PersonForm.initial_for(person)["shown"])


def shown_on(page) -> str:
    return str(page.text.split('name="shown" value="', 1)[1].split('"', 1)[0])


def issue(client: Client, **fields: object):
    return client.post("/api-keys/", {"name": "loan system", "scopes": ["match"], **fields})


def test_admin_sees_only_the_people_of_their_institution(cast, signed_in, django_assert_max_num_queries):
    client = signed_in(cast.alpha["institution_admin"])

    with django_assert_max_num_queries(8):
        page = client.get("/people/")

    assert page.status_code == 200
    for person in cast.alpha.people.values():
        assert person.username in page.text
    assert "beta-" not in page.text
    assert "Contributor" in page.text  # roles in words
    assert events(AuditAction.USER_LIST) == 1


def test_admin_sees_only_the_keys_of_their_institution(cast, signed_in, beta_key, django_assert_max_num_queries):
    admin = cast.alpha["institution_admin"]
    for n in range(3):  # issued and revoked by people, whom the list names
        key, _secret = services.issue_api_key(
            institution=admin.institution, name=f"alpha system {n}", scopes=["match"], created_by=admin
        )
        if n:
            services.revoke_api_key(key, by=admin)
    client = signed_in(admin)

    with django_assert_max_num_queries(8):
        page = client.get("/api-keys/")

    assert page.status_code == 200
    assert "alpha system 2" in page.text
    assert "beta system" not in page.text
    assert beta_key.prefix not in page.text
    assert events(AuditAction.APIKEY_LIST) == 1


@pytest.mark.parametrize(("team", "role"), NOT_ADMINS)
def test_every_page_is_refused_to_people_who_are_not_institution_admins(cast, signed_in, team, role):
    person = getattr(cast, team)[role]
    colleague = cast.alpha["analyst"]
    key, _secret = services.issue_api_key(institution=person.institution, name="own system", scopes=["audit:read"])
    client = signed_in(person)

    answers = [
        client.get("/people/"),
        add_person(client),
        client.get(f"/people/{colleague.pk}/"),
        client.post(f"/people/{colleague.pk}/", {"email": "x@example.com", "roles": ["analyst"]}),
        client.get("/api-keys/"),
        issue(client),
        client.post(f"/api-keys/{key.pk}/revoke"),
    ]

    assert [answer.status_code for answer in answers] == [403] * len(answers)
    assert not User.objects.filter(username="new-analyst").exists()
    colleague.refresh_from_db()
    assert colleague.is_active
    assert colleague.email == "alpha-analyst@example.com"
    assert ApiKey.objects.filter(institution=person.institution).count() == 1
    key.refresh_from_db()
    assert not key.is_revoked
    assert not AuditEvent.objects.exclude(action=AuditAction.LOGIN).exists()


@pytest.mark.parametrize("path", ["/people/", "/people/1/", "/api-keys/"])
def test_the_pages_need_a_signed_in_person(db, path):
    response = Client().get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/sign-in/")


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_institutions_person_answers_404(cast, signed_in, method):
    theirs = cast.beta["analyst"]
    client = signed_in(cast.alpha["institution_admin"])

    response = getattr(client, method)(f"/people/{theirs.pk}/", {"email": "stolen@example.com", "is_active": ""})

    assert response.status_code == 404
    assert theirs.username not in response.text
    theirs.refresh_from_db()
    assert (theirs.email, theirs.is_active) == ("beta-analyst@example.com", True)


def test_another_institutions_key_cannot_be_revoked(cast, signed_in, beta_key):
    client = signed_in(cast.alpha["institution_admin"])

    revoked = client.post(f"/api-keys/{beta_key.pk}/revoke")
    fetched = client.get(f"/api-keys/{beta_key.pk}/revoke")

    assert revoked.status_code == 404
    assert fetched.status_code == 405  # revoking is a POST from the list's button, never a link
    beta_key.refresh_from_db()
    assert not beta_key.is_revoked
    assert events(AuditAction.APIKEY_REVOKE) == 0


def test_admin_adds_a_person_who_can_then_sign_in(cast, signed_in):
    client = signed_in(cast.alpha["institution_admin"])

    response = add_person(client, roles=["analyst", "contributor"], first_name="Mei", last_name="Li")

    assert response.status_code == 302
    assert response["Location"] == "/people/"
    person = User.objects.get(username="new-analyst")
    assert person.institution == cast.alpha.institution
    assert (person.roles, person.first_name, person.last_name) == (["analyst", "contributor"], "Mei", "Li")
    assert person.password.startswith("argon2")
    assert events(AuditAction.USER_CREATE, target_id=str(person.pk)) == 1
    assert "new-analyst was added." in client.get("/people/").text

    browser = Client()
    signed = browser.post("/sign-in/", {"username": "new-analyst", "password": STRONG}, REMOTE_ADDR="192.0.2.10")
    assert signed.status_code == 302
    assert browser.get("/").status_code == 200


def test_a_person_added_without_a_password_cannot_sign_in_yet(cast, signed_in):
    response = add_person(signed_in(cast.alpha["institution_admin"]), password="")

    assert response.status_code == 302
    assert not User.objects.get(username="new-analyst").has_usable_password()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"roles": ["analyst", "regulator_staff"]},
            "roles",
            "A member institution has no such roles: Regulator staff.",
        ),
        ({"roles": ["nonsense"]}, "roles", "Select a valid choice."),
        ({"password": "12345678"}, "password", "This password is too short."),
        ({"username": "alpha-analyst"}, "username", "A user with that username already exists."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
    ],
)
def test_a_refused_person_is_shown_on_the_form_and_nothing_is_created(cast, signed_in, fields, field, message):
    people_before = User.objects.count()

    page = add_person(signed_in(cast.alpha["institution_admin"]), **fields)

    assert page.status_code == 200
    error = page.text.split(f'id="id_{field}_error"', 1)[1].split("</div>", 1)[0]
    assert message in error
    assert 'role="alert"' in page.text
    assert User.objects.count() == people_before
    assert events(AuditAction.USER_CREATE) == 0


def test_the_checkboxes_offer_only_what_the_institutions_kind_may_have(cast, signed_in):
    member = signed_in(cast.alpha["institution_admin"])
    regulator = signed_in(cast.regulator["institution_admin"])

    member_people, regulator_people = member.get("/people/").text, regulator.get("/people/").text
    member_keys, regulator_keys = member.get("/api-keys/").text, regulator.get("/api-keys/").text

    assert 'value="contributor"' in member_people
    assert 'value="regulator_staff"' not in member_people
    assert 'value="regulator_staff"' in regulator_people
    assert 'value="contributor"' not in regulator_people
    assert 'value="match"' in member_keys
    assert 'value="match"' not in regulator_keys
    assert 'value="reports:read"' in regulator_keys


def test_admin_changes_a_persons_roles_details_and_activity(cast, signed_in):
    analyst = cast.alpha["analyst"]
    client = signed_in(cast.alpha["institution_admin"])
    url = f"/people/{analyst.pk}/"

    changed = client.post(
        url,
        {
            "email": "analyst@alpha.example",
            "first_name": "Wei",
            "roles": ["analyst", "auditor"],
            "is_active": "",
            "shown": shown_on(shown_page := client.get(url)),
        },
    )

    assert shown_page.status_code == 200
    assert 'value="alpha-analyst@example.com"' in shown_page.text
    assert changed.status_code == 302
    assert changed["Location"] == url
    analyst.refresh_from_db()
    assert (analyst.email, analyst.first_name, analyst.roles, analyst.is_active) == (
        "analyst@alpha.example",
        "Wei",
        ["analyst", "auditor"],
        False,
    )
    assert events(AuditAction.USER_VIEW, target_id=str(analyst.pk)) == 1
    assert events(AuditAction.USER_UPDATE, target_id=str(analyst.pk)) == 1
    assert "The changes to alpha-analyst were saved." in client.get(url).text


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"roles": ["institution_admin"], "is_active": ""}, "is_active", "You cannot deactivate yourself."),
        ({"roles": ["analyst"], "is_active": "on"}, "roles", "You cannot remove your own admin role."),
    ],
)
def test_an_admin_cannot_lock_themself_out(cast, signed_in, change, field, message):
    admin = cast.alpha["institution_admin"]

    page = signed_in(admin).post(f"/people/{admin.pk}/", {"email": admin.email, "shown": shown(admin), **change})

    assert page.status_code == 200
    assert message in page.text.split(f'id="id_{field}_error"', 1)[1]
    admin.refresh_from_db()
    assert admin.is_active
    assert admin.roles == ["institution_admin"]
    assert events(AuditAction.USER_UPDATE) == 0


def test_the_self_lockout_is_explained_in_chinese_too(cast):
    admin = cast.alpha["institution_admin"]
    client = Client()
    client.force_login(admin)

    page = client.post(
        f"/people/{admin.pk}/", {"email": admin.email, "roles": ["institution_admin"], "shown": shown(admin)}
    )

    assert "您不能停用自己的账号。" in page.text


def test_only_operators_give_the_operator_role(cast, signed_in):
    operator_admin = User.objects.create(
        institution=cast.operator.institution, username="ops-admin", email="o@example.com", roles=["institution_admin"]
    )

    page = add_person(signed_in(operator_admin), username="ops-2", roles=["operator"])

    assert page.status_code == 200
    assert "Only a platform operator can give the operator role." in page.text
    assert not User.objects.filter(username="ops-2").exists()


def test_an_issued_key_is_shown_whole_once_and_works(cast, signed_in):
    admin = cast.alpha["institution_admin"]
    client = signed_in(admin)

    issued = issue(client, scopes=["match", "flags:write"], allowed_networks="127.0.0.1/32\n\n10.0.0.0/8\n")

    assert issued.status_code == 200
    assert "no-store" in issued["Cache-Control"]
    assert "This is the only time the whole key is shown." in issued.text
    key = ApiKey.objects.get(institution=admin.institution)
    secret = issued.text.split('id="api-key-secret" value="', 1)[1].split('"', 1)[0]
    assert secret.startswith(key.prefix + ".")
    assert key.hashed_secret == ApiKey.digest(secret)
    assert (key.scopes, key.allowed_networks, key.created_by) == (
        ["flags:write", "match"],
        ["127.0.0.1/32", "10.0.0.0/8"],
        admin,
    )
    assert events(AuditAction.APIKEY_ISSUE, target_id=str(key.pk)) == 1

    listed = client.get("/api-keys/")
    assert key.prefix in listed.text
    assert secret not in listed.text
    assert secret not in str(dict(client.session))

    system = APIClient()
    system.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert system.get("/api/v1/me").json()["institution"]["code"] == cast.alpha.institution.code


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"allowed_networks": "10.0.0.0/8\nnot-a-network"}, "allowed_networks", "not-a-network is not an IP address"),
        ({"scopes": []}, "scopes", "This field is required."),
        ({"scopes": ["everything"]}, "scopes", "Select a valid choice."),
        ({"expires_at": "2020-01-01T08:00"}, "expires_at", "The expiry must lie in the future."),
        ({"name": ""}, "name", "This field is required."),
    ],
)
def test_a_refused_key_is_shown_on_the_form_and_nothing_is_issued(cast, signed_in, fields, field, message):
    page = issue(signed_in(cast.alpha["institution_admin"]), **fields)

    assert page.status_code == 200
    assert message in page.text.split(f'id="id_{field}_error"', 1)[1].split("</div>", 1)[0]
    assert not ApiKey.objects.exists()
    assert events(AuditAction.APIKEY_ISSUE) == 0


def test_a_scope_the_kind_may_not_hold_is_refused_in_the_services_words(cast, signed_in):
    page = issue(signed_in(cast.regulator["institution_admin"]), scopes=["reports:read", "match"])

    assert page.status_code == 200
    assert "Keys of a regulator cannot hold: Query borrowers." in page.text
    assert not ApiKey.objects.exists()


def test_a_key_with_an_expiry_ahead_is_issued_with_it(cast, signed_in):
    ahead = timezone.localtime() + timedelta(days=30)

    issued = issue(signed_in(cast.alpha["institution_admin"]), expires_at=ahead.strftime("%Y-%m-%dT%H:%M"))

    assert issued.status_code == 200
    stored = ApiKey.objects.get().expires_at
    assert stored is not None
    assert abs(stored - ahead) < timedelta(minutes=1)


def test_a_revoked_key_stops_working(cast, signed_in):
    admin = cast.alpha["institution_admin"]
    key, secret = services.issue_api_key(institution=admin.institution, name="loan system", scopes=["match"])
    system = APIClient()
    system.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert system.get("/api/v1/me").status_code == 200
    client = signed_in(admin)
    revoke_url = f"/api-keys/{key.pk}/revoke"
    assert revoke_url in client.get("/api-keys/").text

    response = client.post(revoke_url)

    assert response.status_code == 302
    assert response["Location"] == "/api-keys/"
    key.refresh_from_db()
    assert key.is_revoked
    assert key.revoked_by == admin
    assert events(AuditAction.APIKEY_REVOKE, target_id=str(key.pk)) == 1
    listed = client.get("/api-keys/").text
    assert f"The key loan system ({key.prefix}) was revoked." in listed
    assert revoke_url not in listed  # no button on a dead key
    refused = system.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.json()["code"] == "api_key_revoked"


def test_the_forms_need_the_csrf_token(cast, signed_in):
    admin = cast.alpha["institution_admin"]
    key, _secret = services.issue_api_key(institution=admin.institution, name="loan system", scopes=["match"])
    client = signed_in(admin, enforce_csrf_checks=True)

    answers = [add_person(client), issue(client), client.post(f"/api-keys/{key.pk}/revoke")]

    assert [answer.status_code for answer in answers] == [403, 403, 403]
    key.refresh_from_db()
    assert not key.is_revoked
    assert ApiKey.objects.count() == 1


def test_reloading_the_page_that_showed_a_key_issues_no_second_key(cast, signed_in):
    admin = cast.alpha["institution_admin"]
    client = signed_in(admin)
    once = client.get("/api-keys/").text.split('name="once" value="', 1)[1].split('"', 1)[0]

    first = issue(client, once=once)
    again = issue(client, once=once)  # what the browser's reload sends
    fresh = issue(client, once=client.get("/api-keys/").context["once"])

    assert first.status_code == 200
    assert again.status_code == 302
    assert fresh.status_code == 200
    assert ApiKey.objects.filter(institution=admin.institution).count() == 2


def test_a_page_opened_before_another_admins_change_does_not_undo_it(cast, signed_in):
    admin, analyst = cast.alpha["institution_admin"], cast.alpha["analyst"]
    client = signed_in(admin)
    url = f"/people/{analyst.pk}/"
    stale = shown_on(client.get(url))
    services.update_user(analyst, by=admin, is_active=False)  # meanwhile, in another tab or by another admin

    answer = client.post(url, {"email": "fixed@example.com", "roles": ["analyst"], "is_active": "on", "shown": stale})

    analyst.refresh_from_db()
    assert answer.status_code == 302
    assert (analyst.email, analyst.is_active) == ("alpha-analyst@example.com", False)
    assert "after you opened the page" in client.get(url).text
    assert events(AuditAction.USER_UPDATE) == 0
