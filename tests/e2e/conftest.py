"""End-to-end tests: the portal in headless Chromium (Debian's), driven by Playwright's Python API.

The platform runs in pytest-django's live server (a real HTTP server in a thread, on the
configured database). Chromium is found as ``CHROMIUM`` or ``chromium`` on the PATH; without it
these tests are skipped, except where ``RISKSHARE_BROWSER_TESTS=required`` (CI, which installs
it: `.ci/run`) makes that a failure. Screenshots go to docs/screenshots/.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.factories import CONSORTIUM_KEY

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Chromium, for the browser tests of this folder only.

    Playwright's sync API runs an event loop in the test's thread; the ORM calls the tests make
    there (fixtures, assertions) are plain synchronous code, which Django must be told it may run
    meanwhile. The permission ends with this folder's tests, before any other test runs.
    """
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        if os.environ.get("RISKSHARE_BROWSER_TESTS") == "required":
            pytest.fail("the browser tests are required here, and no Chromium was found")
        pytest.skip("no Chromium on this machine: apt-get install chromium (CI installs it)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser, live_server) -> Iterator[object]:
    """A fresh browser context (no cookies), in Chinese first like a member's browser, that fails
    the test on any script error, failed load or Content-Security-Policy violation."""
    context = browser.new_context(base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []

    def console(message) -> None:
        # A page that answers 403 or 404 on purpose is logged as a failed load of the page itself.
        own_answer = message.text.startswith("Failed to load resource") and message.location.get("url") == page.url
        if message.type == "error" and not own_answer:
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert not problems, problems


def with_password(person):
    """The cast member, who can now sign in with ``PASSWORD``."""
    person.set_password(PASSWORD)
    person.save(update_fields=["password"])
    return person


def sign_in(page, person) -> None:
    """Sign ``person`` in through the portal's form (giving them ``PASSWORD`` first)."""
    with_password(person)
    page.goto("/sign-in/")
    page.fill("input[name=username]", person.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """The consortium key file a person selects on the pages that key identifiers in the browser."""
    path = tmp_path / "consortium.key"
    path.write_text(CONSORTIUM_KEY.hex() + "\n")
    return path
