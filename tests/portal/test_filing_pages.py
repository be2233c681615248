"""Filing one flag in the portal: contributors only, the browser's member token only, the API's checks."""

import re
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from accounts.choices import AuditAction
from accounts.models import AuditEvent, Institution
from sharing.flags import services
from sharing.keys import datakeys as keys
from sharing.models import Flag
from tests.factories import flag_item, member_token_of, stored_token, stored_tokens

pytestmark = pytest.mark.django_db

URL = "/flags/new/"


def filled(**fields):
    """The form as the page posts it once flag_form.js has keyed the identifier."""
    recently = timezone.localdate() - timedelta(days=30)
    form = {
        "id_type": "cnid",
        "token": member_token_of("11010519491231002X"),
        "reference": "CASE-2026-77",
        "category": "fraud_confirmed",
        "event_date": recently.isoformat(),
        "notice_date": (recently + timedelta(days=1)).isoformat(),
        "notice_channel": "letter",
        "amount_band": "",
        "note": "冒用他人身份申请",
    }
    form.update(fields)
    return form


def test_a_contributor_files_a_flag_as_the_api_would_store_it(cast, client):
    client.force_login(cast.alpha["contributor"])
    services.contribute(cast.alpha.institution, [flag_item("BY-API")])  # the same borrower, sent by a system

    answer = client.post(URL, filled())

    flag = Flag.objects.get(institution=cast.alpha.institution, reference="CASE-2026-77")
    assert answer.status_code == 302
    assert answer["Location"] == f"/flags/{flag.pk}/"
    assert (flag.category, flag.status, flag.notice_channel) == ("fraud_confirmed", "active", "letter")
    assert stored_token(flag) == stored_token(Flag.objects.get(reference="BY-API"))  # keyed by the platform alike
    assert keys.details_of(flag) == {"note": "冒用他人身份申请"}
    event = AuditEvent.objects.get(action=AuditAction.FLAG_CONTRIBUTE)
    assert (event.target_id, event.subjects_count, event.actor_user_id) == (
        str(flag.pk),
        1,
        cast.alpha["contributor"].pk,
    )


def test_an_ended_event_is_filed_as_resolved(cast, client):
    client.force_login(cast.alpha["contributor"])
    started = timezone.localdate() - timedelta(days=60)

    client.post(
        URL, filled(category="overdue_90", event_date=started.isoformat(), end_date=(started + timedelta(days=20)))
    )

    assert Flag.objects.get(reference="CASE-2026-77").status == "resolved"


@pytest.mark.parametrize("role", ["analyst", "auditor", "institution_admin"])
def test_only_contributors_file_flags(cast, client, role):
    client.force_login(cast.alpha[role])

    assert client.get(URL).status_code == 403
    assert client.post(URL, filled()).status_code == 403
    assert not Flag.objects.exists()


def test_the_page_has_no_field_that_could_carry_the_identifier(cast, client):
    client.force_login(cast.alpha["contributor"])

    page = client.get(URL).text

    assert "请重新选择密钥文件" not in page
    tags = {name: tag for tag, name in re.findall(r'(<input id="(identifier|key-file)"[^>]*>)', page)}
    assert set(tags) == {"identifier", "key-file"}
    assert "name=" not in tags["identifier"]
    assert "name=" not in tags["key-file"]
    assert re.search(r"<input type=\"hidden\" name=\"token\"", page)
    assert "报送标记" in page


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"notice_date": "", "notice_channel": ""}, "notice_channel", "报送负面信息须填写告知借款人的日期和方式。"),
        (
            {"event_date": "2020-01-01", "notice_date": "2020-01-02"},
            "event_date",
            "该事件已结束超过 5 年",
        ),
        ({"end_date": "2000-01-01"}, "end_date", "事件的结束日期不能早于发生日期。"),
        ({"reference": "-starts-with-a-dash"}, "reference", "请使用 1 至 64 个字母、数字"),
        ({"token": ""}, None, "标识未能转换为成员令牌"),
        ({"token": "11010519491231002X"}, None, "标识未能转换为成员令牌"),
    ],
)
def test_a_refused_flag_is_shown_on_the_form_in_chinese_and_nothing_is_stored(cast, client, change, field, message):
    client.force_login(cast.alpha["contributor"])

    page = client.post(URL, filled(**change))

    assert page.status_code == 200
    assert message in page.text
    if field:
        assert re.search(rf'id="id_{field}_error"[^>]*>\s*<p>{re.escape(message)}', page.text)
    assert "11010519491231002X" not in page.text
    assert "请重新选择密钥文件并再次输入标识" in page.text
    assert not Flag.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.FLAG_CONTRIBUTE).exists()


def test_a_reference_already_filed_is_refused_not_overwritten(cast, client):
    client.force_login(cast.alpha["contributor"])
    services.contribute(cast.alpha.institution, [flag_item("CASE-2026-77", category="overdue_90")])

    page = client.post(URL, filled(), HTTP_ACCEPT_LANGUAGE="en")

    assert "Your institution already has a flag with this reference." in page.text
    assert Flag.objects.get(reference="CASE-2026-77").category == "overdue_90"


def test_another_institution_may_use_the_same_reference(cast, client):
    services.contribute(cast.beta.institution, [flag_item("CASE-2026-77")])
    client.force_login(cast.alpha["contributor"])

    assert client.post(URL, filled()).status_code == 302
    assert Flag.objects.filter(reference="CASE-2026-77").count() == 2


def test_the_flags_list_offers_the_form_to_contributors_only(cast, client):
    client.force_login(cast.alpha["contributor"])
    contributor = client.get("/flags/").text
    client.force_login(cast.alpha["auditor"])
    auditor = client.get("/flags/").text

    assert URL in contributor
    assert URL not in auditor


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_filing_waits_for_one_in_progress_and_never_overwrites_it(cast, client):
    """A second click lands while the first filing's transaction is still open."""
    institution = cast.alpha.institution
    locked, release = threading.Event(), threading.Event()

    def first_filing():
        try:
            with transaction.atomic():
                Institution.objects.select_for_update(no_key=True).get(pk=institution.pk)
                services.contribute(institution, [flag_item("CASE-2026-77", category="overdue_90")])
                locked.set()
                release.wait(5)
        finally:
            connections.close_all()

    first = threading.Thread(target=first_filing)
    first.start()
    assert locked.wait(5)
    threading.Timer(0.5, release.set).start()
    client.force_login(cast.alpha["contributor"])

    page = client.post(URL, filled(), HTTP_ACCEPT_LANGUAGE="en")
    first.join(5)

    assert "Your institution already has a flag with this reference." in page.text
    assert list(Flag.objects.values_list("category", flat=True)) == ["overdue_90"]


def test_a_flag_is_filed_with_several_identifiers_each_keyed_in_the_browser(cast, client):
    client.force_login(cast.alpha["contributor"])
    mobile = member_token_of("+8613800138000", "mobile")

    answer = client.post(URL, filled(id_type_2="mobile", token_2=mobile, id_type_3="", token_3=""))

    assert answer.status_code == 302
    flag = Flag.objects.get(reference="CASE-2026-77")
    # The same borrower, sent by a system.
    services.contribute(cast.alpha.institution, [flag_item("BY-API", id_type_2="mobile", token_2=mobile)])
    assert stored_tokens(flag) == stored_tokens(Flag.objects.get(reference="BY-API"))
    assert sorted(stored_tokens(flag)) == ["cnid", "mobile"]


def test_two_identifiers_of_one_type_are_refused_on_the_form_and_nothing_is_stored(cast, client):
    client.force_login(cast.alpha["contributor"])

    page = client.post(URL, filled(id_type_2="cnid", token_2=member_token_of("440524198001010013")))

    assert page.status_code == 200
    assert "每种类型的标识至多提供一个。" in page.text
    assert re.search(r'<div class="identifier-row">\s*<label for="id_id_type_2"', page.text)  # the row stays shown
    assert not Flag.objects.exists()


def test_an_added_identifier_that_was_not_keyed_is_refused(cast, client):
    client.force_login(cast.alpha["contributor"])

    page = client.post(URL, filled(id_type_2="mobile", token_2="+8613800138000"))

    assert page.status_code == 200
    assert "标识未能转换为成员令牌" in page.text
    assert "+8613800138000" not in page.text
    assert not Flag.objects.exists()


def test_the_page_offers_five_identifier_rows_none_of_which_can_carry_an_identifier(cast, client):
    client.force_login(cast.alpha["contributor"])

    page = client.get(URL).text

    inputs = re.findall(r'<input id="identifier(?:-\d)?"[^>]*>', page)
    assert len(inputs) == 5
    assert not [tag for tag in inputs if "name=" in tag]
    for name in ("token", "token_2", "token_3", "token_4", "token_5"):
        assert re.search(rf'<input type="hidden" name="{name}"', page)
    assert len(re.findall(r'<div class="identifier-row" hidden>', page)) == 4
    assert 'id="add-identifier"' in page
