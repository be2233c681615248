"""An analyst inspects a portfolio in the portal twice, with real workers: the progress bar, the
counts, what is new the second time, and the dashboard that sums it up."""

import pytest
from playwright.sync_api import expect

from sharing.models import Inspection
from tests.e2e.conftest import screenshot, sign_in
from tests.sharing.matching.test_inspections import LOANS, add_flag, owners, portfolio  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def start_inspection(page, file) -> None:
    page.goto("/inspections/")
    page.set_input_files("#inspect-file", str(file))
    page.fill("#inspect-portfolio", "consumer-2026")
    page.click("#inspect button[type=submit]")
    page.wait_for_url("**/inspections/*/")
    expect(page.locator("#job-status")).to_have_text("成功", timeout=60_000)


def test_an_analyst_inspects_a_portfolio_and_sees_what_is_new_since_last_time(
    page,
    cast,
    owners,  # noqa: F811
    tmp_path,
    celery_worker,
):
    file = tmp_path / "portfolio.csv"
    file.write_bytes(portfolio(LOANS))
    sign_in(page, cast.alpha["analyst"])
    page.click("text=贷后自查")

    start_inspection(page, file)
    expect(page.locator("#job-percent")).to_have_text("100%")
    expect(page.locator("#hits_count")).to_have_text("3")
    expect(page.locator("#new_hits_count")).to_contain_text("首次")

    add_flag(owners["beta"], "B-9", 2, "overdue_90", "2026-07-01")  # L-2 is hit for the first time
    start_inspection(page, file)
    expect(page.locator("#hits_count")).to_have_text("4")
    expect(page.locator("#new_hits_count")).to_contain_text("1")
    expect(page.locator("#new-hits")).to_contain_text("L-2")
    with page.expect_download() as download:
        page.click("#job-results a:text('CSV')")
    assert "L-2,overdue_90" in download.value.path().read_text()
    screenshot(page, "inspection-zh")

    page.click(".brand")  # back to the dashboard
    latest = Inspection.objects.latest("id")
    expect(page.locator("#latest-inspection")).to_contain_text(latest.portfolio)
    expect(page.locator("#recent-queries")).to_be_visible()
    screenshot(page, "dashboard-zh")
