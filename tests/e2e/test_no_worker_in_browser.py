"""With no worker running, a queued upload's page says so; once a worker starts, the job runs and the notice goes."""

import hashlib

import pytest
from playwright.sync_api import expect

from sharing.models import Upload
from tests.e2e.conftest import sign_in
from tests.sharing.flags.test_uploads import COLUMNS, csv_bytes, row
from tests.workers import start_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_a_queued_upload_says_no_worker_runs_until_one_starts_and_takes_it(page, cast, empty_test_queue, tmp_path):
    rows = [row(f"LOAN-{n}", token=hashlib.sha256(f"borrower {n}".encode()).hexdigest()) for n in range(20)]
    flags_file = tmp_path / "flags.csv"
    flags_file.write_bytes(csv_bytes(rows, COLUMNS))
    sign_in(page, cast.alpha["contributor"])
    page.goto("/uploads/")
    page.set_input_files("#upload-file", str(flags_file))
    page.click("#upload button[type=submit]")
    page.wait_for_url("**/uploads/*/")

    notice = page.locator("#job-no-worker")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("当前没有运行中的后台任务进程")
    expect(page.locator("#job-status")).to_have_text("排队中")

    worker = start_worker(tmp_path / "worker.log")
    try:
        expect(page.locator("#job-percent")).to_have_text("100%", timeout=60_000)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    expect(notice).to_be_hidden()
    assert Upload.objects.get().status == "succeeded", (tmp_path / "worker.log").read_text()
