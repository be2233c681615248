"""An institution admin issues an API key in the portal, sees it once, and never again."""

import pytest
from playwright.sync_api import expect

from accounts.models import ApiKey
from tests.e2e.conftest import screenshot, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_issues_a_key_and_sees_it_only_once(page, cast):
    admin = cast.alpha["institution_admin"]
    sign_in(page, admin)

    page.click("nav.links a[href='/api-keys/']")
    page.wait_for_url("**/api-keys/")
    page.fill("#id_name", "贷款审批系统")
    page.check("#issue-key input[value=match]")
    page.check("#issue-key input[value='flags:write']")
    page.fill("#id_allowed_networks", "127.0.0.1/32")
    page.click("#issue-key button[type=submit]")

    secret_box = page.locator("#api-key-secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.input_value()
    key = ApiKey.objects.get(institution=admin.institution)
    assert secret.startswith(key.prefix + ".")
    assert key.matches(secret)
    expect(page.locator("#shown-once")).to_be_visible()
    screenshot(page, "api-key-zh")

    page.click("#back-to-keys")
    page.wait_for_url("**/api-keys/")
    expect(page.locator("#api-keys")).to_contain_text(key.prefix)
    assert secret not in page.content()
    page.reload()
    expect(page.locator("#api-keys")).to_contain_text("贷款审批系统")
    assert secret not in page.content()
    assert ApiKey.objects.count() == 1  # going back to the list issued nothing more
