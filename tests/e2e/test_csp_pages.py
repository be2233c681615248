"""Pages that load scripts and styles of their own still work under the strict policy."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import sign_in, with_password

pytestmark = pytest.mark.django_db(transaction=True)


def test_swagger_ui_loads_the_schema_under_the_policy(page, cast):
    person = cast.alpha["institution_admin"]
    sign_in(page, person)

    page.goto("/api/docs/")

    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "/api/v1/reports" in page.locator(".swagger-ui").inner_text()


def test_the_admin_sign_in_works_under_the_policy(page, cast):
    page.goto("/admin/login/")

    expect(page.locator("#id_username")).to_be_visible()


def test_an_operator_works_in_the_admin_under_the_policy(page, cast):
    operator = with_password(cast.operator["operator"])
    page.goto("/admin/login/")
    page.fill("#id_username", operator.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    page.goto("/admin/accounts/institution/")
    expect(page.locator("#result_list")).to_contain_text(cast.alpha.institution.code)
    page.goto(f"/admin/accounts/institution/{cast.alpha.institution.pk}/change/")

    expect(page.locator("#id_sector")).to_be_visible()
