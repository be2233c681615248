"""An inspection survives a worker killed halfway: every part matched once, the same hits and multi-lender
figures as a clean run, for subjects known by two identifiers."""

import csv
import hashlib
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count
from django.utils import timezone

from accounts.models import Institution
from sharing.flags import services
from sharing.keys.tokens import Keyer, peppers
from sharing.models import ContributedLoans, Inspection, InspectionHit, InspectionLending, Loan, LoanToken
from sharing.tasks import resume_stalled_uploads
from tests.factories import flag_item
from tests.workers import hands_on_at_once, kill_worker_when, second_worker, stall, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROWS = 20_000


def member_token(n: int, id_type: str = "cnid") -> str:
    return hashlib.sha256(f"subject {n} {id_type}".encode()).hexdigest()


def portfolio() -> bytes:
    """Each subject by its resident ID and its mobile number."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["correlation_id", "id_type", "token", "id_type_2", "token_2"])
    for n in range(ROWS):
        writer.writerow([f"L-{n}", "cnid", member_token(n), "mobile", member_token(n, "mobile")])
    return text.getvalue().encode()


def lend(lender: Institution, subjects: range) -> None:
    """An open loan of ``lender`` to each subject, known by its mobile number."""
    loans = Loan.objects.bulk_create(
        Loan(
            institution=lender,
            reference=f"LN-{n}",
            product="cash_loan",
            opened_on=date.today() - timedelta(days=30),
            amount_band="10k_50k",
            consent_reference="AUTH-1",
        )
        for n in subjects
    )
    keyer = Keyer(peppers())
    LoanToken.objects.bulk_create(
        LoanToken(loan=loan, id_type="mobile", token=keyer(member_token(n, "mobile")), pepper_version=1)
        for loan, n in zip(loans, subjects, strict=True)
    )


def test_an_inspection_survives_a_worker_killed_mid_job(empty_test_queue, cast, client_for, tmp_path: Path):
    services.contribute(cast.alpha.institution, [flag_item("ALPHA-OWN")])
    ContributedLoans.objects.create(institution=cast.alpha.institution, last_contributed_at=timezone.now())
    flagged = range(0, ROWS, 7)  # by the subject's resident ID on every seventh, by its mobile on every other
    items = [
        flag_item(f"B-{n}", token=member_token(n, "mobile"), id_type="mobile")
        if n % 2
        else flag_item(f"B-{n}", token=member_token(n))
        for n in flagged
    ]
    borrowing = range(0, ROWS, 5)
    lend(cast.beta.institution, borrowing)
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
    figures = InspectionLending.objects.filter(inspection_id=inspection_id)
    assert sorted(figures.values_list("correlation_id", flat=True)) == sorted(f"L-{n}" for n in borrowing)
    assert set(figures.values_list("institutions_with_open_loans", "loans_opened_90d", "open_amount_band")) == {
        (1, 1, "10k_50k")
    }
    assert inspection.lending_count == len(borrowing)
