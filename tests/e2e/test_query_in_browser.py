"""An analyst looks a borrower up in the portal: the identifiers are hashed in the browser."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sharing.flags import services
from sharing.keys.tokens import Keyer, peppers
from sharing.models import ContributedLoans, Loan, LoanToken
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import flag_item, member_token_of

pytestmark = pytest.mark.django_db(transaction=True)

BORROWER = "110105 19491231 002x"  # as a person types it; canonically 11010519491231002X
MOBILE = "138 0013 8000"  # canonically 13800138000


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
    assert [subject["identifiers"] for query in queries for subject in query["subjects"]] == [
        [{"id_type": "cnid", "token": member_token_of("11010519491231002X")}]
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


def test_a_borrower_is_looked_up_by_two_identifiers_with_the_multi_lender_figures(page, analyst, key_file, cast):
    """The flag was filed under the mobile number only; the analyst knows the resident ID and the mobile."""
    services.contribute(
        cast.beta.institution,
        [flag_item("BETA-MOBILE", id_type="mobile", token=member_token_of("13800138000", "mobile"))],
    )
    ContributedLoans.objects.create(institution=cast.alpha.institution, last_contributed_at=timezone.now())
    loan = Loan.objects.create(
        institution=cast.beta.institution,
        reference="BETA-LOAN",
        product="cash_loan",
        opened_on=timezone.localdate() - timedelta(days=20),
        amount_band="10k_50k",
        consent_reference="AUTH-1",
    )
    token = Keyer(peppers())(member_token_of("13800138000", "mobile"))
    LoanToken.objects.create(loan=loan, id_type="mobile", token=token, pepper_version=1)
    sent = []
    page.on("request", lambda request: sent.append((request.url, request.post_data or "")))
    sign_in(page, analyst)
    page.goto("/query/")

    page.set_input_files("#key-file", str(key_file))
    page.fill("#identifier", "440524198001010013")  # nobody's flag but alpha's own
    page.click("#add-identifier")
    page.select_option("#id-type-2", "mobile")
    page.fill("#identifier-2", MOBILE)
    page.select_option("#purpose", "post_loan_review")
    page.click("#query button[type=submit]")

    expect(page.locator("#answer-summary")).to_have_text("其他会员已标记该借款人。")
    expect(page.locator("#lending")).to_be_visible()
    expect(page.locator("#lending-others")).to_contain_text("对该借款人有未结清贷款的其他机构数1")
    expect(page.locator("#lending-others")).to_contain_text("1万至5万元")
    expect(page.locator("#answer-own")).to_contain_text("逾期90天及以上 (1)")
    queries = [json.loads(body) for url, body in sent if url.endswith("/api/v1/queries")]
    assert queries[0]["subjects"][0]["identifiers"] == [
        {"id_type": "cnid", "token": member_token_of("440524198001010013")},
        {"id_type": "mobile", "token": member_token_of("13800138000", "mobile")},
    ]
    for url, body in sent:
        for form in ("13800138000", "138 0013 8000", "440524198001010013"):
            assert form not in url, (url, form)
            assert form not in body, (url, form)
    screenshot(page, "query-several-identifiers-zh")


def test_without_loan_contributions_the_page_says_why_there_are_no_figures(page, analyst, key_file):
    sign_in(page, analyst)
    page.goto("/query/")

    page.set_input_files("#key-file", str(key_file))
    page.fill("#identifier", BORROWER)
    page.select_option("#purpose", "post_loan_review")
    page.click("#query button[type=submit]")

    expect(page.locator("#lending-note")).to_contain_text("多头借贷指标需要报送贷款")
    expect(page.locator("#lending")).to_be_hidden()


def test_two_identifiers_of_one_type_are_refused_in_the_page(page, analyst, key_file):
    sent = []
    page.on("request", lambda request: sent.append(request.url))
    sign_in(page, analyst)
    page.goto("/query/")

    page.set_input_files("#key-file", str(key_file))
    page.fill("#identifier", BORROWER)
    page.click("#add-identifier")
    page.select_option("#id-type-2", "cnid")
    page.fill("#identifier-2", "440524198001010013")
    page.click("#query button[type=submit]")

    expect(page.locator("#query-error")).to_have_text("每种类型的标识至多提供一个。")
    assert not [url for url in sent if url.endswith("/api/v1/queries")]
