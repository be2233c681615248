"""Post-loan self-inspections: a portfolio matched in parts, results by category, and what is new."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from accounts.choices import AuditAction, InstitutionKind, Scope
from accounts.models import AuditEvent
from memberkit.vocabulary import LENDING_FIGURES
from sharing.flags import services
from sharing.matching import inspections
from sharing.models import Inspection, InspectionHit
from tests.factories import PEOPLE, InstitutionFactory, contribute_rows, member_token_of, person_flag
from tests.workers import wait_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/inspections"
FLAGS = [
    # (owner, reference, person, category, event date, end date)
    ("beta", "B-1", 0, "overdue_90", "2026-03-10", None),
    ("gamma", "G-1", 0, "overdue_90", "2026-05-20", "2026-06-01"),
    ("beta", "B-3", 1, "fraud_confirmed", "2026-02-01", None),
    ("gamma", "G-2", 1, "identity_theft", "2026-04-04", None),
    ("alpha", "A-1", 3, "overdue_90", "2026-06-01", None),
]


@pytest.fixture
def owners(cast):
    gamma = InstitutionFactory.create(kind=InstitutionKind.MEMBER)
    owners = {"alpha": cast.alpha.institution, "beta": cast.beta.institution, "gamma": gamma}
    contribute_rows(owners, FLAGS)
    return owners


def add_flag(institution, reference, person, category, event, end=None):
    services.contribute(institution, [person_flag(reference, person, category, event, end)])


def portfolio(rows):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["correlation_id", "id_type", "token"])
    for correlation_id, person in rows:
        writer.writerow([correlation_id, "cnid", member_token_of(PEOPLE[person]) if person is not None else "bad"])
    return text.getvalue().encode()


NO_FIGURES = [""] * (len(LENDING_FIGURES) + 1)  # a member that reports no loans gets no figures
LOANS = [("L-0", 0), ("L-1", 1), ("L-2", 2), ("L-3", 3), ("L-4", None), ("L-0b", 0)]


def inspect(client, content, name="portfolio.csv", **fields):
    data = {"file": SimpleUploadedFile(name, content), "portfolio": "consumer-2026", "purpose": "post_loan_review"}
    headers = {name: fields.pop(name) for name in list(fields) if name.startswith("HTTP_")}
    return client.post(URL, {**data, **fields}, format="multipart", **headers)


def run(inspection_id):
    """What the tasks do, in this process: start, every part, finish."""
    for number in inspections.start(inspection_id):
        inspections.match_part(inspection_id, number, on_last=lambda: None)
    inspections.finish(inspection_id)
    return Inspection.objects.get(pk=inspection_id)


def results(client, inspection, accept="text/csv"):
    response = client.get(f"{URL}/{inspection.pk}/results", HTTP_ACCEPT=accept)
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def analyst(cast, client_for):
    return client_for(cast.alpha["analyst"])


@pytest.mark.parametrize("part_rows", [2, 1000])
def test_results_match_the_flags_exactly(analyst, owners, settings, part_rows):
    settings.INSPECTION_PART_ROWS = part_rows
    response = inspect(analyst, portfolio(LOANS))
    assert response.status_code == 202, response.json()

    inspection = run(response.json()["id"])

    assert inspection.status == "succeeded"
    assert (inspection.rows_total, inspection.rows_done, inspection.rejected_count) == (6, 6, 1)
    assert inspection.parts == inspection.parts_done == -(-6 // part_rows)
    # Alpha contributes overdue_90 only: it sees that and the protective identity_theft, and never its own.
    # It reports no loans: its subjects' multi-lender figures are left empty (lending_note says why).
    assert list(csv.reader(io.StringIO(results(analyst, inspection)))) == [
        [
            "correlation_id",
            "category",
            "institutions",
            "latest_event_month",
            "disputed",
            "resolved",
            "new",
            *LENDING_FIGURES,
            "lending_new",
        ],
        ["L-0", "overdue_90", "2", "2026-05", "false", "true", "false", *NO_FIGURES],
        ["L-1", "identity_theft", "1", "2026-04", "false", "false", "false", *NO_FIGURES],
        ["L-0b", "overdue_90", "2", "2026-05", "false", "true", "false", *NO_FIGURES],
    ]
    assert (inspection.lending_note, inspection.lending_count) == ("no_loan_contributions", None)
    assert (inspection.hits_count, inspection.counts_by_category) == (3, {"overdue_90": 2, "identity_theft": 1})


def test_jsonl_results_group_the_categories_of_a_subject(analyst, owners, settings):
    settings.MATCH_OWN_CATEGORIES_ONLY = False
    inspection = run(inspect(analyst, portfolio(LOANS[:2])).json()["id"])

    lines = [json.loads(line) for line in results(analyst, inspection, "application/jsonl").splitlines()]

    assert [(line["correlation_id"], [c["category"] for c in line["categories"]]) for line in lines] == [
        ("L-0", ["overdue_90"]),
        ("L-1", ["fraud_confirmed", "identity_theft"]),
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-based path is PostgreSQL's")
def test_the_set_based_and_portable_paths_find_the_same(analyst, owners, monkeypatch, settings):
    settings.INSPECTION_PART_ROWS = 4
    set_wise = run(inspect(analyst, portfolio(LOANS)).json()["id"])
    monkeypatch.setattr(connection, "vendor", "portable")
    portable = run(inspect(analyst, portfolio(LOANS), name="again.csv", portfolio="other").json()["id"])
    monkeypatch.undo()

    fields = ("row", "correlation_id", "category", "institutions", "latest_event_date", "disputed", "resolved")
    assert list(InspectionHit.objects.filter(inspection=set_wise).order_by(*fields).values_list(*fields)) == list(
        InspectionHit.objects.filter(inspection=portable).order_by(*fields).values_list(*fields)
    )
    assert set_wise.counts_by_category == portable.counts_by_category


def test_a_second_inspection_of_a_portfolio_says_exactly_what_is_new(analyst, owners):
    first = run(inspect(analyst, portfolio(LOANS)).json()["id"])
    add_flag(owners["beta"], "B-9", 2, "overdue_90", "2026-07-01")  # L-2 is hit for the first time
    add_flag(owners["beta"], "B-10", 0, "identity_theft", "2026-07-02")  # L-0: a new category

    second = run(inspect(analyst, portfolio(LOANS)).json()["id"])
    other = run(inspect(analyst, portfolio(LOANS), portfolio="another-portfolio").json()["id"])

    new = set(InspectionHit.objects.filter(inspection=second, new=True).values_list("correlation_id", "category"))
    assert new == {("L-2", "overdue_90"), ("L-0", "identity_theft"), ("L-0b", "identity_theft")}
    assert (second.previous_id, second.new_hits_count) == (first.pk, 3)
    assert (first.previous_id, first.new_hits_count) == (None, None)
    assert (other.previous_id, other.new_hits_count) == (None, None)


def test_results_exist_only_once_the_inspection_has_succeeded(analyst, owners):
    response = inspect(analyst, portfolio(LOANS))

    early = analyst.get(f"{URL}/{response.json()['id']}/results", HTTP_ACCEPT="text/csv")

    assert early.status_code == 409
    assert early.json()["code"] == "not_finished"


def test_another_institution_cannot_see_an_inspection(cast, client_for, analyst, owners):
    inspection = run(inspect(analyst, portfolio(LOANS)).json()["id"])
    beta = client_for(cast.beta["analyst"])

    assert beta.get(f"{URL}/{inspection.pk}").status_code == 404
    assert beta.get(f"{URL}/{inspection.pk}/results").status_code == 404
    assert beta.get(URL).json()["results"] == []


def test_a_file_without_the_token_column_is_refused_at_once(analyst, owners):
    response = inspect(analyst, b"correlation_id,id_type\r\nL-0,cnid\r\n")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "columns.token", "code": "missing_column", "message": "The column is required."}
    ]


def test_an_institution_that_contributes_nothing_may_not_inspect(cast, client_for):
    response = inspect(client_for(cast.beta["analyst"]), portfolio(LOANS))

    assert response.status_code == 403
    assert response.json()["code"] == "not_reciprocal"


def test_credit_reviews_need_consent(analyst, owners):
    response = inspect(analyst, portfolio(LOANS), purpose="credit_review")

    assert response.json()["errors"][0]["code"] == "consent_required"


def test_keys_need_the_inspections_scope(cast, key_client, owners):
    with_scope, _ = key_client(cast.alpha.institution, scopes=[Scope.INSPECTIONS])
    without, _ = key_client(cast.alpha.institution, scopes=[Scope.MATCH])

    assert inspect(with_scope, portfolio(LOANS)).status_code == 202
    assert inspect(without, portfolio(LOANS)).json()["code"] == "missing_scope"


def test_an_inspection_is_audited_with_purpose_subjects_and_hits(analyst, owners):
    inspection = run(inspect(analyst, portfolio(LOANS)).json()["id"])

    event = AuditEvent.objects.get(action=AuditAction.INSPECTION_RUN)
    assert (event.target_id, event.purpose, event.subjects_count, event.hits_count, event.actor_type) == (
        str(inspection.pk),
        "post_loan_review",
        6,
        3,
        "system",
    )
    assert AuditEvent.objects.filter(action=AuditAction.INSPECTION_CREATE, target_id=str(inspection.pk)).exists()
    assert not inspection.file  # the file of member tokens is gone


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_workers_run_an_inspection_in_parts(celery_worker, cast, client_for, settings, owners):
    settings.INSPECTION_PART_ROWS = 2

    response = inspect(client_for(cast.alpha["analyst"]), portfolio(LOANS))
    wait_for(lambda: Inspection.objects.get(pk=response.json()["id"]).is_finished)

    inspection = Inspection.objects.get(pk=response.json()["id"])
    assert (inspection.status, inspection.parts, inspection.parts_done, inspection.hits_count) == ("succeeded", 3, 3, 3)


def test_the_stall_sweep_hands_a_stuck_inspection_to_a_worker_again(analyst, owners, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from sharing import tasks

    inspection_id = inspect(analyst, portfolio(LOANS)).json()["id"]
    inspections.start(inspection_id)
    Inspection.objects.filter(pk=inspection_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_inspection, "delay", sent.append)

    assert tasks.resume_stalled_uploads() == 1
    assert sent == [inspection_id]


def test_rows_that_cannot_be_matched_are_reported_by_row_and_field_without_their_values(analyst, owners):
    content = (
        "correlation_id,id_type,token\r\n"
        f"L-0,cnid,{member_token_of(PEOPLE[0])}\r\n"
        f",cnid,{'A' * 64}\r\n"
        f"{'x' * 65},ssn,\r\n"
        "L-3,cnid\r\n"
        f"L-4,passport,{member_token_of(PEOPLE[1])}\r\n"
    ).encode()
    inspection = run(inspect(analyst, content).json()["id"])

    response = analyst.get(f"{URL}/{inspection.pk}/errors", HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    report = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert report == [
        ["row", "field", "code", "message"],
        ["3", "correlation_id", "required", "Your id for the row is required."],
        ["3", "token", "bad_token", "A member token is 64 lowercase hexadecimal characters."],
        ["4", "correlation_id", "bad_correlation_id", "Use text of at most 64 characters."],
        ["4", "token", "required", "The member token is required."],
        ["4", "id_type", "unknown_id_type", "Use one of: cnid, mobile, uscc, passport."],
        ["5", "", "bad_row", "The row has 2 fields; the header has 3."],
    ]
    assert (inspection.rows_done, inspection.rejected_count, inspection.hits_count) == (5, 3, 2)
    assert AuditEvent.objects.filter(action=AuditAction.INSPECTION_ERRORS, target_id=str(inspection.pk)).count() == 1


def test_another_institution_cannot_read_an_inspections_errors(cast, client_for, analyst, owners):
    inspection = run(inspect(analyst, portfolio(LOANS)).json()["id"])

    assert client_for(cast.beta["analyst"]).get(f"{URL}/{inspection.pk}/errors").status_code == 404


def test_an_idempotency_key_makes_a_retried_inspection_one_job(analyst, owners):
    first = inspect(analyst, portfolio(LOANS), HTTP_IDEMPOTENCY_KEY="inspect-1")
    again = inspect(analyst, portfolio(LOANS), name="renamed.csv", HTTP_IDEMPOTENCY_KEY="inspect-1")

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert Inspection.objects.count() == 1
    events = AuditEvent.objects.filter(action=AuditAction.INSPECTION_CREATE).order_by("id")
    assert [(event.target_id, event.reason) for event in events] == [
        (str(first.json()["id"]), ""),
        (str(first.json()["id"]), "idempotent_replay"),
    ]


@pytest.mark.parametrize(
    "change",
    [{"portfolio": "another-book"}, {"purpose": "collection"}, {"content": portfolio(LOANS[:2])}],
    ids=["portfolio", "purpose", "file"],
)
def test_another_inspection_under_a_used_key_is_refused_and_stores_no_file(analyst, owners, change):
    inspect(analyst, portfolio(LOANS), HTTP_IDEMPOTENCY_KEY="inspect-2")
    stored = Inspection.objects.get().file
    folder = str(stored.name).rsplit("/", 1)[0]
    files_before = stored.storage.listdir(folder)[1]
    content = change.pop("content", portfolio(LOANS))

    response = inspect(analyst, content, HTTP_IDEMPOTENCY_KEY="inspect-2", **change)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Inspection.objects.count() == 1
    assert stored.storage.listdir(folder)[1] == files_before, "the refused request left a file behind"


def test_the_file_is_deleted_once_the_inspection_has_ended(analyst, owners, django_capture_on_commit_callbacks):
    response = inspect(analyst, portfolio(LOANS))
    stored = Inspection.objects.get(pk=response.json()["id"]).file
    storage, name = stored.storage, str(stored.name)
    assert storage.exists(name)

    with django_capture_on_commit_callbacks(execute=True):
        inspection = run(response.json()["id"])

    assert inspection.file.name == ""
    assert not storage.exists(name), "the file holds member tokens"
