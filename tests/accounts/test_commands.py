"""Management commands for operators and automation."""

import io

import pytest
from django.contrib.auth import password_validation
from django.core.management import CommandError, call_command
from django.utils import translation
from rest_framework.test import APIClient

from accounts import demo
from accounts.models import ApiKey, Institution, User
from tests.factories import uscc_code

pytestmark = pytest.mark.django_db


def call(*args: str) -> tuple[str, str]:
    """Run a command in English (commands speak the platform's default language, zh-Hans)."""
    out, err = io.StringIO(), io.StringIO()
    with translation.override("en"):
        call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_institution_validates_the_code():
    code = uscc_code(8_000_001)
    out, _ = call("create_institution", "--code", code, "--name-zh", "会员", "--name-en", "Member", "--kind", "member")

    assert code in out
    assert Institution.objects.get(code=code).kind == "member"
    with pytest.raises(CommandError, match="check character"):
        call("create_institution", "--code", code[:-1] + "0", "--name-zh", "x", "--name-en", "x", "--kind", "member")


def test_create_user_prints_a_generated_password_once(cast):
    out, _ = call(
        "create_user",
        "--institution",
        cast.alpha.institution.code,
        "--username",
        "ops-analyst",
        "--email",
        "ops@example.com",
        "--role",
        "analyst",
        "--role",
        "auditor",
    )

    password = out.split("Password (shown once): ")[1].strip()
    person = User.objects.get(username="ops-analyst")
    assert person.check_password(password)
    assert person.roles == ["analyst", "auditor"]


def test_create_user_reads_the_password_from_stdin(cast, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a perfectly fine passphrase\n"))
    out, _ = call(
        "create_user",
        "--institution",
        cast.alpha.institution.code,
        "--username",
        "piped",
        "--email",
        "p@example.com",
        "--role",
        "analyst",
        "--password-stdin",
    )

    assert "Password" not in out
    assert User.objects.get(username="piped").check_password("a perfectly fine passphrase")


def test_create_user_refuses_roles_foreign_to_the_institution(cast):
    with pytest.raises(CommandError, match="A member institution has no such roles: Platform operator"):
        call(
            "create_user",
            "--institution",
            cast.alpha.institution.code,
            "--username",
            "x",
            "--email",
            "x@example.com",
            "--role",
            "operator",
        )


def test_issue_api_key_prints_a_key_that_works(cast):
    out, err = call(
        "issue_api_key",
        "--institution",
        cast.beta.institution.code,
        "--name",
        "batch",
        "--scope",
        "inspections",
        "--expires-in-days",
        "30",
    )

    secret = out.strip()
    assert "shown once" in err
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert client.get("/api/v1/me").json()["scopes"] == ["inspections"]
    assert ApiKey.objects.get(prefix=secret.split(".")[0]).expires_at is not None


def test_seed_demo_is_idempotent_and_its_key_answers_for_the_demo_member():
    first, _ = call("seed_demo")
    counts = (Institution.objects.count(), User.objects.count(), ApiKey.objects.count())
    second, _ = call("seed_demo")

    assert (Institution.objects.count(), User.objects.count(), ApiKey.objects.count()) == counts
    assert counts == (4, 11, 3)
    assert first == second
    kinds = sorted(Institution.objects.values_list("kind", flat=True))
    assert kinds == ["member", "member", "operator", "regulator"]
    every_role = {role for roles in User.objects.values_list("roles", flat=True) for role in roles}
    assert every_role == {"institution_admin", "contributor", "analyst", "auditor", "regulator_staff", "operator"}

    _prefix, secret = demo.demo_key_material(demo.CAST[0].code)
    assert secret in first
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert client.get("/api/v1/me").json()["institution"]["name_en"] == demo.CAST[0].name_en
    assert User.objects.get(username="alpha-admin").check_password(demo.demo_password())


def test_seed_demo_passes_the_password_validators_whatever_the_secret_key(settings):
    # Under this key the first derived password is too much like a username or e-mail
    # address for UserAttributeSimilarityValidator (about one installation in ninety).
    settings.SECRET_KEY = "ci secret key number 88 " * 3

    output, _ = call("seed_demo")

    password = demo.demo_password()
    assert f"password: {password}" in output
    password_validation.validate_password(password, User.objects.get(username="operator"))
    assert all(person.check_password(password) for person in User.objects.all())


def test_seed_demo_never_runs_in_production(settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="never runs in production"):
        call("seed_demo")
    assert not Institution.objects.exists()


def test_seed_demo_after_a_new_secret_key_prints_credentials_that_work(settings):
    call("seed_demo")
    old_key = demo.demo_key_material(demo.CAST[0].code)[1]

    settings.SECRET_KEY = "another installation's secret key, long enough to be one" * 2
    output, _ = call("seed_demo")

    new_key = demo.demo_key_material(demo.CAST[0].code)[1]
    assert new_key in output
    assert old_key not in output
    assert User.objects.get(username="alpha-admin").check_password(demo.demo_password())
    old, new = APIClient(), APIClient()
    old.credentials(HTTP_AUTHORIZATION=f"Api-Key {old_key}")
    new.credentials(HTTP_AUTHORIZATION=f"Api-Key {new_key}")
    assert old.get("/api/v1/me").json()["code"] == "api_key_revoked"
    assert new.get("/api/v1/me").status_code == 200


def test_set_institution_status_suspends_and_reactivates(cast, key_client):
    client, _key = key_client(cast.beta.institution)

    call("set_institution_status", cast.beta.institution.code, "suspended")
    assert client.get("/api/v1/me").json()["code"] == "institution_suspended"

    out, _ = call("set_institution_status", cast.beta.institution.code.lower(), "active")
    assert "is now active" in out
    assert client.get("/api/v1/me").status_code == 200


def test_revoke_api_key_by_prefix(cast, key_client):
    client, key = key_client(cast.alpha.institution)

    out, _ = call("revoke_api_key", key.prefix)

    assert key.prefix in out
    assert client.get("/api/v1/me").json()["code"] == "api_key_revoked"
    with pytest.raises(CommandError, match="No API key"):
        call("revoke_api_key", "rs_unknown0")
