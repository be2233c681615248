"""A member's flags in the portal: its own only, with details; contributors resolve and withdraw."""

import re
from datetime import date

import pytest

from accounts.choices import AuditAction
from accounts.models import AuditEvent
from sharing.flags import services
from sharing.models import Flag
from tests.factories import flag_item, member_token_of, stored_tokens

pytestmark = pytest.mark.django_db


@pytest.fixture
def flags(cast):
    services.contribute(
        cast.alpha.institution, [flag_item("ALPHA-1"), flag_item("ALPHA-2", category="fraud_confirmed")]
    )
    services.contribute(cast.beta.institution, [flag_item("BETA-1")])
    return {flag.reference: flag for flag in Flag.objects.all()}


def test_the_list_shows_the_institutions_own_flags_filtered(flags, cast, client):
    client.force_login(cast.alpha["auditor"])

    everything = client.get("/flags/").text
    frauds = client.get("/flags/", {"category": "fraud_confirmed"}).text

    assert "ALPHA-1" in everything
    assert "ALPHA-2" in everything
    assert "BETA-1" not in everything
    assert "ALPHA-2" in frauds
    assert "ALPHA-1" not in frauds
    assert AuditEvent.objects.filter(action=AuditAction.FLAG_LIST).count() == 2


def test_a_flag_shows_its_details_to_its_own_institution_and_is_404_to_others(flags, cast, client):
    client.force_login(cast.alpha["contributor"])

    own = client.get(f"/flags/{flags['ALPHA-1'].pk}/")
    theirs = client.get(f"/flags/{flags['BETA-1'].pk}/")

    assert own.status_code == 200
    assert "consumer loan" in own.text  # the sealed details, opened for their owner
    assert theirs.status_code == 404
    assert AuditEvent.objects.filter(action=AuditAction.FLAG_VIEW, target_id=str(flags["ALPHA-1"].pk)).exists()


def test_a_contributor_resolves_and_withdraws(flags, cast, client):
    client.force_login(cast.alpha["contributor"])
    url = f"/flags/{flags['ALPHA-1'].pk}/"

    resolved = client.post(url, {"change": "resolve", "end_date": "2026-05-01"})
    withdrawn = client.post(url, {"change": "withdraw", "reason": "filed in error"})

    assert resolved.status_code == 302
    assert withdrawn.status_code == 302
    flag = Flag.objects.get(pk=flags["ALPHA-1"].pk)
    assert (flag.status, flag.end_date, flag.withdrawal_reason, flag.details) == (
        "withdrawn",
        date(2026, 5, 1),
        "filed in error",
        None,
    )
    assert AuditEvent.objects.filter(action=AuditAction.FLAG_RESOLVE).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.FLAG_WITHDRAW).count() == 1


def test_a_bad_end_date_is_shown_on_the_form_and_nothing_changes(flags, cast, client):
    client.force_login(cast.alpha["contributor"])

    page = client.post(f"/flags/{flags['ALPHA-1'].pk}/", {"change": "resolve", "end_date": "2099-01-01"})
    english = client.post(
        f"/flags/{flags['ALPHA-1'].pk}/", {"change": "resolve", "end_date": "2099-01-01"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert page.status_code == 200
    assert "日期不能晚于今天。" in page.text  # the service's message, in the portal's language
    assert "The date is in the future." in english.text
    assert Flag.objects.get(pk=flags["ALPHA-1"].pk).status == "active"


def test_auditors_read_but_cannot_change_a_flag(flags, cast, client):
    client.force_login(cast.alpha["auditor"])

    response = client.post(f"/flags/{flags['ALPHA-1'].pk}/", {"change": "withdraw", "reason": "no"})

    assert response.status_code == 403
    assert Flag.objects.get(pk=flags["ALPHA-1"].pk).status == "active"


def test_analysts_have_no_flag_pages(flags, cast, client):
    client.force_login(cast.alpha["analyst"])

    assert client.get("/flags/").status_code == 403


def test_the_filters_are_labelled_in_each_persons_language(flags, cast, client):
    client.force_login(cast.alpha["auditor"])

    english = client.get("/flags/", HTTP_ACCEPT_LANGUAGE="en").text  # the first to build the form
    chinese = client.get("/flags/", HTTP_ACCEPT_LANGUAGE="zh-hans").text

    assert ">Event on or after</label>" in english
    assert ">事件日期不早于</label>" in chinese
    assert ">类别</label>" in chinese


def test_an_erased_flag_shows_that_its_reference_was_erased(flags, cast, client):
    services.apply_retention(today=date(2031, 3, 2))  # five years after ALPHA-1's event
    client.force_login(cast.alpha["auditor"])

    listed = client.get("/flags/").text
    page = client.get(f"/flags/{flags['ALPHA-1'].pk}/").text

    assert "ALPHA-1" not in listed
    assert listed.count("编号已抹除") == 2
    assert "平台已无法将其与任何借款人关联" in page


@pytest.mark.parametrize("since", ["2026-01-01T00:00:00+19:00", "9999-12-31T23:00:00-12:00"])
def test_a_time_the_database_cannot_take_is_a_form_error_on_the_list(flags, cast, client, since):
    client.force_login(cast.alpha["auditor"])

    page = client.get("/flags/", {"updated_since": since})

    assert page.status_code == 200
    assert page.context["filters"].errors.keys() == {"updated_since"}
    assert "ALPHA-1" not in page.text  # an ignored filter would have listed every flag


@pytest.mark.parametrize("since", ["2026-01-01T00:00:00+19:00", "9999-12-31T23:00:00-12:00"])
def test_the_api_answers_a_field_error_for_the_same_times(flags, cast, client_for, since):
    response = client_for(cast.alpha["auditor"]).get("/api/v1/flags", {"updated_since": since})

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["updated_since"]


@pytest.mark.parametrize("upload", ["-1.1e94", "99999999999999999999", "0", "1.5"])
def test_an_upload_id_no_column_can_hold_is_a_field_error(flags, cast, client_for, upload):
    response = client_for(cast.alpha["auditor"]).get("/api/v1/flags", {"upload": upload})

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["upload"]


def test_the_pages_show_each_flags_identifier_types_never_their_tokens(cast, client, django_assert_max_num_queries):
    mobile = member_token_of("+8613800138000", "mobile")
    services.contribute(
        cast.alpha.institution,
        [flag_item(f"MANY-{n}", id_type_2="mobile", token_2=mobile) for n in range(10)] + [flag_item("ONE")],
    )
    flag = Flag.objects.get(reference="MANY-0")
    client.force_login(cast.alpha["auditor"])

    with django_assert_max_num_queries(15):  # one query for every flag's types, not one per flag
        listed = client.get("/flags/", HTTP_ACCEPT_LANGUAGE="en").text
    page = client.get(f"/flags/{flag.pk}/", HTTP_ACCEPT_LANGUAGE="en").text

    assert listed.count("<td>Resident identity number, Mobile number</td>") == 10
    assert listed.count("<td>Resident identity number</td>") == 1
    assert re.search(r'id="flag-id-types">Resident identity number, Mobile number</dd>', page)
    for text in (listed, page):
        assert mobile not in text
        assert stored_tokens(flag)["mobile"].hex() not in text


def test_the_list_filters_by_any_of_a_flags_identifier_types(flags, cast, client):
    services.contribute(
        cast.alpha.institution,
        [flag_item("WITH-MOBILE", id_type_2="mobile", token_2=member_token_of("+8613800138000", "mobile"))],
    )
    client.force_login(cast.alpha["auditor"])

    mobiles = client.get("/flags/", {"id_type": "mobile"}).text
    residents = client.get("/flags/", {"id_type": "cnid"}).text

    assert "WITH-MOBILE" in mobiles
    assert "ALPHA-1" not in mobiles
    assert "WITH-MOBILE" in residents
    assert "ALPHA-1" in residents
