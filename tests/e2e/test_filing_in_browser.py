"""A contributor files one flag in the portal: the identifier is keyed in the browser, as in a query."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sharing.flags import services
from sharing.models import Flag
from tests.e2e.conftest import sign_in
from tests.factories import flag_item, member_token_of, stored_token

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
