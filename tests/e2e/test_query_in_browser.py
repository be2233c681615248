"""An analyst looks a borrower up in the portal: the identifier is hashed in the browser."""

import json

import pytest
from playwright.sync_api import expect

from sharing.flags import services
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import flag_item, member_token_of

pytestmark = pytest.mark.django_db(transaction=True)

BORROWER = "110105 19491231 002x"  # as a person types it; canonically 11010519491231002X


@pytest.fixture
def analyst(cast):
    person = cast.alpha["analyst"]
    services.contribute(cast.alpha.institution, [flag_item("ALPHA-OWN", token=member_token_of("440524198001010013"))])
    services.contribute(
        cast.beta.institution,
        [flag_item("BETA-1", token=member_token_of("11010519491231002X"), category="overdue_90")],
    )
    return person


def test_an_analyst_looks_a_borrower_up_and_no_raw_identifier_leaves_the_browser(page, analyst, key_file):
    sent = []
    page.on("request", lambda request: sent.append((request.url, request.post_data or "")))
    sign_in(page, analyst)
    page.click("text=查询借款人")

    page.set_input_files("#key-file", str(key_file))
    page.select_option("#id-type", "cnid")
    page.fill("#identifier", BORROWER)
    page.select_option("#purpose", "post_loan_review")
    page.click("#query button[type=submit]")

    expect(page.locator("#answer")).to_be_visible()
    expect(page.locator("#answer-summary")).to_have_text("其他会员已标记该借款人。")
    expect(page.locator("#answer-rows")).to_contain_text("逾期90天及以上")
    queries = [json.loads(body) for url, body in sent if url.endswith("/api/v1/queries")]
    assert [subject["token"] for query in queries for subject in query["subjects"]] == [
        member_token_of("11010519491231002X")
    ]
    for url, body in sent:
        for form in ("11010519491231002", "110105 19491231", "19491231", "110105"):
            assert form not in url, (url, form)
            assert form not in body, (url, form)
    screenshot(page, "query-zh")


def test_a_mistyped_identifier_is_refused_in_the_browser_and_nothing_is_sent(page, analyst, key_file):
    sent = []
    page.on("request", lambda request: sent.append(request.url))
    sign_in(page, analyst)
    page.goto("/query/")

    page.set_input_files("#key-file", str(key_file))
    page.fill("#identifier", "110105194912310021")  # the check character is wrong
    page.click("#query button[type=submit]")

    expect(page.locator("#query-error")).to_contain_text("校验")
    assert not [url for url in sent if url.endswith("/api/v1/queries")]


def test_the_query_page_is_for_analysts(page, cast):
    auditor = cast.alpha["auditor"]
    sign_in(page, auditor)

    assert page.goto("/query/").status == 403
