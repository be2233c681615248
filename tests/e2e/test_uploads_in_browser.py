"""A contributor uploads a file of flags in the portal and watches a real worker store it."""

import hashlib

import pytest
from playwright.sync_api import expect

from sharing.models import Flag, Upload
from tests.e2e.conftest import screenshot, sign_in
from tests.sharing.flags.test_uploads import COLUMNS, csv_bytes, row

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]
ROWS = 3000


@pytest.fixture
def contributor(cast):
    return cast.alpha["contributor"]


@pytest.fixture
def flags_file(tmp_path):
    rows = [row(f"LOAN-{n}", token=hashlib.sha256(f"borrower {n}".encode()).hexdigest()) for n in range(ROWS)]
    rows.append(row("BAD-1", category="not_a_category"))
    path = tmp_path / "flags.csv"
    path.write_bytes(csv_bytes(rows, COLUMNS))
    return path


def test_a_contributor_uploads_a_file_and_sees_the_progress_bar_reach_100(page, contributor, flags_file, celery_worker):
    sign_in(page, contributor)
    page.click("text=上传")
    page.set_input_files("#upload-file", str(flags_file))
    page.click("#upload button[type=submit]")

    page.wait_for_url("**/uploads/*/")
    expect(page.locator("#job-percent")).to_have_text("100%", timeout=60_000)
    expect(page.locator("#job-status")).to_have_text("成功")
    expect(page.locator("#created_count")).to_have_text(str(ROWS))
    expect(page.locator("#rejected_count")).to_have_text("1")
    expect(page.locator("#job-errors")).to_be_visible()
    upload = Upload.objects.get()
    assert page.locator("#job-progress").get_attribute("value") == str(upload.rows_total)
    assert Flag.objects.filter(institution=contributor.institution).count() == ROWS
    screenshot(page, "upload-zh")


def test_another_institutions_upload_is_not_found(page, cast):
    theirs = Upload.objects.create(
        institution=cast.beta.institution, file_name="theirs.csv", file_format="csv", size_bytes=1
    )
    auditor = cast.alpha["auditor"]
    sign_in(page, auditor)

    response = page.goto(f"/uploads/{theirs.pk}/")

    assert response.status == 404
    assert "theirs.csv" not in page.content()
