"""Uploads through a real worker on the configured broker, including a worker killed halfway through a file."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sharing.models import Flag, Upload, UploadError
from sharing.tasks import resume_stalled_uploads
from tests.factories import flag_item
from tests.workers import hands_on_at_once, kill_worker_when, second_worker, stall, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

COLUMNS = ["reference", "id_type", "token", "category", "event_date", "notice_date", "notice_channel", "details"]


def big_file(rows: int) -> tuple[bytes, set[str], int, int]:
    """``rows`` rows: every 97th has an unknown category, every 89th repeats the reference 500 rows back."""
    template = flag_item("T")
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    valid: set[str] = set()
    rejected = superseded = 0
    for n in range(1, rows + 1):
        reference = f"R-{n - 500}" if n % 89 == 0 and n > 500 else f"R-{n}"
        category = "late" if n % 97 == 0 else "overdue_90"
        if category == "late":
            rejected += 1
        elif reference in valid:
            superseded += 1
        else:
            valid.add(reference)
        details = f'{{"amount": {n}}}'
        writer.writerow([reference, "cnid", template["token"], category, "2026-03-01", "2026-02-20", "sms", details])
    return text.getvalue().encode(), valid, rejected, superseded


def test_a_real_worker_processes_an_upload(celery_worker, cast, client_for):
    content, valid, rejected, superseded = big_file(1200)

    response = client_for(cast.alpha["contributor"]).post(
        "/api/v1/uploads", {"file": SimpleUploadedFile("flags.csv", content)}, format="multipart"
    )
    upload_id = response.json()["id"]
    wait_for(lambda: Upload.objects.get(pk=upload_id).is_finished)

    upload = Upload.objects.get(pk=upload_id)
    assert upload.status == "succeeded", upload.error
    assert (upload.rows_total, upload.created_count, upload.rejected_count, upload.superseded_count) == (
        1200,
        len(valid),
        rejected,
        superseded,
    )
    assert Flag.objects.count() == len(valid)


def test_a_worker_killed_mid_file_is_resumed_and_stores_every_valid_row_once(
    empty_test_queue, cast, client_for, tmp_path
):
    content, valid, rejected, superseded = big_file(40_000)
    log = tmp_path / "worker.log"
    response = client_for(cast.alpha["contributor"]).post(
        "/api/v1/uploads", {"file": SimpleUploadedFile("flags.csv", content)}, format="multipart"
    )
    upload_id = response.json()["id"]
    kill_worker_when(lambda: Upload.objects.get(pk=upload_id).rows_done >= 2000, log)
    killed_at = Upload.objects.get(pk=upload_id)
    assert killed_at.status == "running", log.read_text()
    assert 0 < killed_at.rows_done < 40_000, "the file was too small to kill the worker halfway"

    with second_worker(log):
        if not hands_on_at_once():
            # RabbitMQ hands the dead worker's unacknowledged task to the next one at once; with other
            # brokers the stall sweep does it (here without waiting UPLOAD_STALL_MINUTES).
            stall(Upload, upload_id)
            assert resume_stalled_uploads() == 1
        wait_for(lambda: Upload.objects.get(pk=upload_id).is_finished)

    upload = Upload.objects.get(pk=upload_id)
    assert upload.status == "succeeded", log.read_text()
    assert upload.attempts == 2
    assert upload.rows_done == upload.rows_total == 40_000
    assert (upload.created_count, upload.updated_count) == (len(valid), 0)
    assert (upload.rejected_count, upload.superseded_count) == (rejected, superseded)
    assert Flag.objects.count() == len(valid)
    assert set(Flag.objects.values_list("reference", flat=True)) == valid
    # The report lists each refused or superseded row once: the chunk the worker died in left no trace.
    assert UploadError.objects.filter(upload_id=upload_id).count() == rejected + superseded
    assert UploadError.objects.filter(upload_id=upload_id).values("row").distinct().count() == rejected + superseded
