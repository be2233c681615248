"""An inspection survives a worker killed halfway: every part matched once, the same hits as a clean run."""

import csv
import hashlib
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count

from sharing.flags import services
from sharing.models import Inspection, InspectionHit
from sharing.tasks import resume_stalled_uploads
from tests.factories import flag_item
from tests.workers import hands_on_at_once, kill_worker_when, second_worker, stall, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROWS = 20_000


def member_token(n: int) -> str:
    return hashlib.sha256(f"subject {n}".encode()).hexdigest()


def portfolio() -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["correlation_id", "id_type", "token"])
    for n in range(ROWS):
        writer.writerow([f"L-{n}", "cnid", member_token(n)])
    return text.getvalue().encode()


def test_an_inspection_survives_a_worker_killed_mid_job(empty_test_queue, cast, client_for, tmp_path: Path):
    services.contribute(cast.alpha.institution, [flag_item("ALPHA-OWN")])
    flagged = range(0, ROWS, 7)
    items = [flag_item(f"B-{n}", token=member_token(n)) for n in flagged]
    for start in range(0, len(items), 1000):
        services.contribute(cast.beta.institution, items[start : start + 1000])
    log = tmp_path / "worker.log"
    client = client_for(cast.alpha["analyst"])
    response = client.post(
        "/api/v1/inspections",
        {"file": SimpleUploadedFile("p.csv", portfolio()), "portfolio": "book", "purpose": "post_loan_review"},
        format="multipart",
    )
    inspection_id = response.json()["id"]
    environment = {"INSPECTION_PART_ROWS": "100"}

    kill_worker_when(lambda: Inspection.objects.get(pk=inspection_id).parts_done >= 5, log, environment)
    killed_at = Inspection.objects.get(pk=inspection_id)
    assert killed_at.status == "running", log.read_text()
    assert killed_at.parts_done < killed_at.parts == ROWS // 100, "too small to kill halfway"

    with second_worker(log, environment):
        if not hands_on_at_once():
            # Other brokers do not hand a dead worker's task on at once: the stall sweep does it.
            stall(Inspection, inspection_id)
            resume_stalled_uploads()
        wait_for(lambda: Inspection.objects.get(pk=inspection_id).is_finished)

    inspection = Inspection.objects.get(pk=inspection_id)
    assert inspection.status == "succeeded", log.read_text()
    assert inspection.rows_done == inspection.rows_total == ROWS
    assert inspection.parts_done == inspection.parts
    hits = InspectionHit.objects.filter(inspection_id=inspection_id)
    assert sorted(hits.values_list("correlation_id", flat=True)) == sorted(f"L-{n}" for n in flagged)
    assert not hits.values("row", "category").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert inspection.hits_count == len(flagged)
