"""A contributor files one flag in the portal: the identifier is keyed in the browser, as in a query."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sharing.flags import services
from sharing.models import Flag
from tests.e2e.conftest import sign_in
from tests.factories import flag_item, member_token_of, stored_token, stored_tokens

pytestmark = pytest.mark.django_db(transaction=True)

BORROWER = "110105-19491231-002x"  # as a person types it; canonically 11010519491231002X


def test_a_contributor_files_a_flag_and_no_raw_identifier_leaves_the_browser(page, cast, key_file):
    services.contribute(cast.alpha.institution, [flag_item("BY-SYSTEM", token=member_token_of("11010519491231002X"))])
    sent = []
    page.on("request", lambda request: sent.append((request.url, request.post_data or "")))
    sign_in(page, cast.alpha["contributor"])
    page.goto("/flags/")
    page.click("text=报送标记")
    happened = timezone.localdate() - timedelta(days=10)

    page.set_input_files("#key-file", str(key_file))
    page.select_option("#id_id_type", "cnid")
    page.fill("#identifier", BORROWER)
    page.fill("#id_reference", "FRAUD-0042")
    page.select_option("#id_category", "fraud_confirmed")
    page.fill("#id_event_date", happened.isoformat())
    page.fill("#id_notice_date", happened.isoformat())
    page.select_option("#id_notice_channel", "phone")
    page.fill("#id_note", "申请人称身份证遗失")
    page.click("#new-flag button[type=submit]")

    expect(page.locator("h1")).to_have_text("FRAUD-0042")
    expect(page.locator("#flag-status")).to_have_text("正常")
    filed = Flag.objects.get(institution=cast.alpha.institution, reference="FRAUD-0042")
    assert stored_token(filed) == stored_token(Flag.objects.get(reference="BY-SYSTEM"))  # the Python standard's token
    posted = [body for url, body in sent if url.endswith("/flags/new/") and body]
    assert len(posted) == 1
    assert f"token={member_token_of('11010519491231002X')}" in posted[0]
    for url, body in sent:
        for form in ("11010519491231002", "19491231", "110105", "002x", "002X"):
            assert form not in url, (url, form)
            assert form not in body, (url, form)


def test_a_mistyped_identifier_is_refused_in_the_browser_and_nothing_is_posted(page, cast, key_file):
    sign_in(page, cast.alpha["contributor"])
    page.goto("/flags/new/")
    sent = []
    page.on("request", lambda request: sent.append((request.method, request.url)))

    page.set_input_files("#key-file", str(key_file))
    page.fill("#identifier", "110105194912310021")  # the check character is wrong
    page.fill("#id_reference", "FRAUD-0043")
    page.fill("#id_event_date", timezone.localdate().isoformat())
    page.click("#new-flag button[type=submit]")

    expect(page.locator("#identifier-error")).to_contain_text("校验")
    assert not [url for method, url in sent if method == "POST"]
    assert not Flag.objects.exists()


def test_a_flag_filed_with_a_second_identifier_keys_each_in_the_browser(page, cast, key_file):
    mobile = "138 0013 8000"  # as a person types it; canonically +8613800138000
    sent = []
    page.on("request", lambda request: sent.append((request.url, request.post_data or "")))
    sign_in(page, cast.alpha["contributor"])
    page.goto("/flags/new/")
    happened = timezone.localdate() - timedelta(days=10)

    page.set_input_files("#key-file", str(key_file))
    page.select_option("#id_id_type", "cnid")
    page.fill("#identifier", BORROWER)
    expect(page.locator("#identifier-2")).to_be_hidden()
    page.click("#add-identifier")
    expect(page.locator("#id_id_type_2")).to_have_value("mobile")  # the first type no other row has taken
    page.fill("#identifier-2", mobile)
    page.click("#add-identifier")
    page.click("#identifiers .identifier-row:nth-of-type(3) .remove-identifier")  # added by mistake
    page.fill("#id_reference", "FRAUD-0044")
    page.select_option("#id_category", "identity_theft")
    page.fill("#id_event_date", happened.isoformat())
    page.click("#new-flag button[type=submit]")

    expect(page.locator("h1")).to_have_text("FRAUD-0044")
    expect(page.locator("#flag-id-types")).to_have_text("居民身份证号码, 手机号码")
    filed = Flag.objects.get(institution=cast.alpha.institution, reference="FRAUD-0044")
    services.contribute(
        cast.alpha.institution,
        [
            flag_item(
                "BY-SYSTEM",
                category="identity_theft",
                notice_date=None,
                notice_channel=None,
                id_type_2="mobile",
                token_2=member_token_of("+8613800138000", "mobile"),
            )
        ],
    )
    assert stored_tokens(filed) == stored_tokens(Flag.objects.get(reference="BY-SYSTEM"))
    posted = [body for url, body in sent if url.endswith("/flags/new/") and body]
    assert len(posted) == 1
    assert f"token_2={member_token_of('+8613800138000', 'mobile')}" in posted[0]
    assert "id_type_3=&" in posted[0]
    for url, body in sent:
        for form in ("11010519491231002", "13800138000", "0013", "138%20"):
            assert form not in url, (url, form)
            assert form not in body, (url, form)


def test_two_rows_of_one_type_are_refused_in_the_browser_and_nothing_is_posted(page, cast, key_file):
    sign_in(page, cast.alpha["contributor"])
    page.goto("/flags/new/")
    sent = []
    page.on("request", lambda request: sent.append((request.method, request.url)))

    page.set_input_files("#key-file", str(key_file))
    page.fill("#identifier", BORROWER)
    page.click("#add-identifier")
    page.select_option("#id_id_type_2", "cnid")
    page.fill("#identifier-2", "440524198001010013")
    page.fill("#id_reference", "FRAUD-0045")
    page.fill("#id_event_date", timezone.localdate().isoformat())
    page.click("#new-flag button[type=submit]")

    expect(page.locator("#identifier-error")).to_have_text("每种类型的标识至多提供一个。")
    assert not [url for method, url in sent if method == "POST"]
    assert not Flag.objects.exists()
