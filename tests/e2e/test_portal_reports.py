"""Regulators read reports in the portal, in a real browser; members cannot."""

import pytest
from playwright.sync_api import expect

from sharing.reports import jobs as reports
from tests.e2e.conftest import screenshot, sign_in
from tests.sharing.reports.october import known_october

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def regulator(cast):
    return cast.regulator["regulator_staff"]


@pytest.fixture
def monthly(cast, regulator):
    """September and October built as the scheduler builds them, for the month-by-month chart."""
    from datetime import date

    known_october(cast)
    built = []
    for today in (date(2026, 10, 1), date(2026, 11, 1)):
        report = reports.schedule_month_before(today)
        assert report is not None
        reports.build(report.pk)
        built.append(report)
    return built


def test_a_regulator_opens_a_report_and_sees_its_charts(page, regulator, monthly):
    sign_in(page, regulator)
    page.click("text=报表")
    page.click(f"a[href='/reports/{monthly[-1].pk}/']")

    expect(page.get_by_role("img", name="按类别统计的新增标记")).to_be_visible()
    charts = page.locator("figure.chart svg")
    assert charts.count() == 4  # by category, by sector; new flags and subjects month by month
    assert page.locator("figure.chart rect.bar").count() >= 6
    assert page.locator("td.suppressed").first.inner_text() == "x"
    screenshot(page, "report-zh")


def test_switching_the_language_switches_every_visible_string(page, regulator, monthly):
    sign_in(page, regulator)
    page.goto(f"/reports/{monthly[-1].pk}/")
    chinese = page.locator("main").inner_text()

    page.select_option("#language", "en")  # submitted by the portal's script, not inline code
    page.wait_for_load_state("networkidle")
    english = page.locator("main").inner_text()

    assert "按类别统计的新增标记" in chinese
    assert "New flags by category" in english
    leftover = [word for word in ("报表", "按类别", "机构类型", "合计", "下载", "说明", "逐月") if word in english]
    assert not leftover, leftover
    screenshot(page, "report-en")


def test_every_page_carries_a_strict_content_security_policy(page, regulator):
    response = page.goto("/sign-in/")

    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_a_member_cannot_open_the_report_pages(page, cast, monthly):
    analyst = cast.alpha["analyst"]
    sign_in(page, analyst)

    response = page.goto(f"/reports/{monthly[-1].pk}/")

    assert response.status == 403
    assert "无权访问" in page.locator("main").inner_text()
    assert "2026-10-01" not in page.content()


def test_a_regulator_sees_each_members_activity(page, regulator, monthly, cast):
    sign_in(page, regulator)
    page.click("text=会员活动")

    expect(page.locator("table.figures")).to_contain_text(cast.alpha.institution.code)
    expect(page.locator("h1")).to_have_text("会员活动")
    screenshot(page, "activity-zh")


@pytest.mark.worker
def test_a_regulator_asks_for_a_report_and_watches_a_worker_build_it(page, regulator, cast, celery_worker):
    known_october(cast)
    sign_in(page, regulator)
    page.goto("/reports/")
    page.fill("#id_starts_on", "2026-10-01")
    page.fill("#id_ends_on", "2026-10-31")
    page.click("#request-report button[type=submit]")

    page.wait_for_url("**/reports/*/")
    # The page follows the build and shows the report once a worker has built it.
    expect(page.locator("figure.chart").first).to_be_visible(timeout=60_000)
    expect(page.locator("#job-status")).to_have_text("成功")
    assert page.locator("figure.chart").count() >= 2
