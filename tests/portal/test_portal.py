"""Sign-in, sign-out, the home page, languages, lockout and the operators' admin."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.choices import AuditAction, InstitutionStatus
from accounts.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client: Client, username: str, password: str, address: str = "192.0.2.10"):
    return client.post("/sign-in/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_portal_speaks_chinese_by_default_and_english_on_request(db):
    chinese = Client().get("/sign-in/")
    english = Client(headers={"accept-language": "en"}).get("/sign-in/")

    assert '<html lang="zh-hans">' in chinese.text
    assert "登录" in chinese.text
    assert '<html lang="en">' in english.text
    assert "Sign in" in english.text


def test_language_switch_is_remembered(db):
    client = Client()
    client.post("/i18n/setlang/", {"language": "en", "next": "/sign-in/"})

    assert "Sign in" in client.get("/sign-in/").text


def test_sign_in_leads_home_with_institution_and_roles(analyst):
    client = Client(headers={"accept-language": "en"})

    response = sign_in(client, analyst.username, PASSWORD)
    assert response.status_code == 302
    home = client.get(response["Location"])

    assert home.status_code == 200
    assert analyst.institution.name_en in home.text
    assert analyst.institution.code in home.text
    assert "Analyst" in home.text


def test_home_in_chinese_shows_the_chinese_name_and_role(analyst):
    client = Client()
    sign_in(client, analyst.username, PASSWORD)

    home = client.get("/")

    assert analyst.institution.name_zh in home.text
    assert "查询分析员" in home.text


def test_home_needs_a_signed_in_person(db):
    response = Client().get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/sign-in/")


def test_wrong_password_is_refused_on_the_form(analyst):
    response = sign_in(Client(headers={"accept-language": "en"}), analyst.username, "wrong password")

    assert response.status_code == 200
    assert 'role="alert"' in response.text


def test_sign_out_ends_the_session(analyst):
    client = Client()
    sign_in(client, analyst.username, PASSWORD)

    assert client.post("/sign-out/").status_code == 302
    assert client.get("/").status_code == 302


def test_repeated_failures_lock_the_sign_in_even_with_the_right_password(analyst, settings):
    client = Client(headers={"accept-language": "en"})
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, analyst.username, "wrong").status_code == 200

    locked = sign_in(client, analyst.username, "wrong")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text

    right_password = sign_in(client, analyst.username, PASSWORD)
    assert right_password.status_code == 429
    assert client.get("/").status_code == 302  # still not signed in


def test_lockout_is_per_address_so_others_can_still_sign_in(analyst, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), analyst.username, "wrong", address="198.51.100.66")

    assert sign_in(Client(), analyst.username, PASSWORD, address="192.0.2.10").status_code == 302


def test_spraying_many_user_names_from_one_address_locks_that_address(cast, analyst, settings):
    sprayer = "203.0.113.7"
    names = [f"guess-{n}" for n in range(30)]
    answers = [sign_in(Client(), name, "Winter2026!", address=sprayer).status_code for name in names]

    # Each name is tried once, far below the per-name limit; the address's own limit stops the rest.
    limit = settings.AXES_ADDRESS_FAILURE_LIMIT
    assert answers == [200] * (limit - 1) + [429] * (len(names) - limit + 1)
    assert sign_in(Client(), analyst.username, PASSWORD, address=sprayer).status_code == 429
    # Another address is not affected.
    assert sign_in(Client(), analyst.username, PASSWORD, address="192.0.2.10").status_code == 302


def test_an_office_behind_one_address_is_not_locked_out_by_a_few_typos(cast, settings):
    office = "198.51.100.20"
    people = list(cast.alpha.people.values())[:3]
    typos = settings.AXES_FAILURE_LIMIT - 1
    assert len(people) * typos < settings.AXES_ADDRESS_FAILURE_LIMIT
    for person in people:
        person.set_password(PASSWORD)
        person.save()
        for _ in range(typos):
            assert sign_in(Client(), person.username, "typo", address=office).status_code == 200

    for person in people:
        assert sign_in(Client(), person.username, PASSWORD, address=office).status_code == 302


def test_a_successful_sign_in_does_not_clear_the_address_count_of_other_names(analyst, settings):
    sprayer = "203.0.113.8"
    for n in range(settings.AXES_ADDRESS_FAILURE_LIMIT - 1):
        sign_in(Client(), f"guess-{n}", "wrong", address=sprayer)
    # The attacker's own account signs in, then sprays on.
    assert sign_in(Client(), analyst.username, PASSWORD, address=sprayer).status_code == 302

    assert sign_in(Client(), "guess-last", "wrong", address=sprayer).status_code == 429


def test_the_address_count_ends_with_the_cool_off(analyst, settings):
    sprayer = "203.0.113.9"
    for n in range(settings.AXES_ADDRESS_FAILURE_LIMIT):
        sign_in(Client(), f"guess-{n}", "wrong", address=sprayer)
    assert sign_in(Client(), analyst.username, PASSWORD, address=sprayer).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))

    assert sign_in(Client(), analyst.username, PASSWORD, address=sprayer).status_code == 302


def test_people_of_a_suspended_institution_cannot_sign_in_and_lose_their_session(cast, analyst):
    signed_in = Client()
    sign_in(signed_in, analyst.username, PASSWORD)
    assert signed_in.get("/").status_code == 200

    services.update_institution(analyst.institution, by=cast.operator["operator"], status=InstitutionStatus.SUSPENDED)

    assert signed_in.get("/").status_code == 302
    assert sign_in(Client(), analyst.username, PASSWORD).status_code == 200  # the form again, not home


def test_admin_is_for_operators_only(cast):
    operator = Client()
    operator.force_login(cast.operator["operator"])
    member_admin = Client()
    member_admin.force_login(cast.alpha["institution_admin"])

    assert operator.get("/admin/").status_code == 200
    assert operator.get("/admin/accounts/institution/").status_code == 200
    assert operator.get("/admin/accounts/apikey/").status_code == 200
    assert member_admin.get("/admin/").status_code == 302
    assert member_admin.get("/admin/accounts/institution/").status_code == 302


def test_passwords_are_hashed_with_argon2(analyst):
    assert analyst.password.startswith("argon2$argon2id$")


def test_operator_signs_in_on_the_admin_page_and_others_cannot(cast):
    operator, member_admin = cast.operator["operator"], cast.alpha["institution_admin"]
    for person in (operator, member_admin):
        person.set_password(PASSWORD)
        person.save()

    signed_in = Client()
    response = signed_in.post("/admin/login/?next=/admin/", {"username": operator.username, "password": PASSWORD})
    refused = Client().post("/admin/login/?next=/admin/", {"username": member_admin.username, "password": PASSWORD})

    assert response.status_code == 302
    assert signed_in.get("/admin/").status_code == 200
    assert refused.status_code == 200  # the form again
    assert operator.is_staff
    assert not member_admin.is_staff


def test_admin_keeps_the_rule_that_operators_cannot_suspend_their_own_institution(cast):
    operator = Client(headers={"accept-language": "en"})
    operator.force_login(cast.operator["operator"])
    own = cast.operator.institution
    form = {"name_zh": own.name_zh, "name_en": own.name_en, "status": "suspended"}

    refused = operator.post(f"/admin/accounts/institution/{own.pk}/change/", form)
    suspended = operator.post(
        f"/admin/accounts/institution/{cast.beta.institution.pk}/change/",
        {**form, "name_en": cast.beta.institution.name_en, "name_zh": cast.beta.institution.name_zh},
    )

    assert refused.status_code == 200
    assert "You cannot suspend your own institution." in refused.text
    own.refresh_from_db()
    assert own.is_active
    assert suspended.status_code == 302
    cast.beta.institution.refresh_from_db()
    assert not cast.beta.institution.is_active
    change = AuditEvent.objects.get(action="institution.update")
    assert (change.actor_user, change.target_id) == (cast.operator["operator"], str(cast.beta.institution.pk))


def test_a_person_changes_their_own_password_giving_the_current_one(analyst):
    client = Client(headers={"accept-language": "en"})
    sign_in(client, analyst.username, PASSWORD)
    new = "an entirely new passphrase 2026"

    wrong = client.post("/password/", {"old_password": "not it", "new_password1": new, "new_password2": new})
    right = client.post("/password/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new})

    assert wrong.status_code == 200
    assert right.status_code == 302
    assert "Your password was changed." in client.get("/").text  # still signed in
    analyst.refresh_from_db()
    assert analyst.check_password(new)


def test_operators_read_the_audit_trail_and_its_verifications_in_the_admin(cast):
    operator = Client()
    operator.force_login(cast.operator["operator"])

    for page in ("auditevent", "auditcheckpoint", "auditverification"):
        assert operator.get(f"/admin/accounts/{page}/").status_code == 200
    assert operator.get("/admin/accounts/auditevent/add/").status_code == 403


def test_a_failed_audit_verification_is_shown_on_the_admin_home(cast):
    from accounts.models import AuditVerification

    AuditVerification.objects.create(intact=False, summary="audit trail NOT intact: event 7 (entry 7) was changed")
    operator = Client()
    operator.force_login(cast.operator["operator"])

    assert "event 7 (entry 7) was changed" in operator.get("/admin/").text


def test_a_session_idle_for_longer_than_the_limit_is_signed_out(analyst, client, settings):
    from accounts.idle import LAST_SEEN

    client.force_login(analyst)
    assert client.get("/").status_code == 200
    session = client.session
    session[LAST_SEEN] -= settings.SESSION_IDLE_MINUTES * 60 + 1
    session.save()

    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/sign-in/")
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT, actor_user=analyst).exists()


def test_a_session_in_use_stays_signed_in(analyst, client, settings):
    from accounts.idle import LAST_SEEN

    client.force_login(analyst)
    client.get("/")
    session = client.session
    session[LAST_SEEN] -= settings.SESSION_IDLE_MINUTES * 60 - 5
    session.save()

    assert client.get("/").status_code == 200
    assert client.session[LAST_SEEN] >= session[LAST_SEEN] + settings.SESSION_IDLE_MINUTES * 60 - 5
