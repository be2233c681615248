"""``manage.py seed_demo_consortium``: a living consortium for a newcomer, written once.

Seeded here with a smaller history than ``make run``'s twenty thousand flags, so that it runs in seconds.
"""

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Model
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone, translation

from accounts import demo
from accounts.choices import AuditAction, InstitutionKind
from accounts.models import ApiKey, AuditEvent, Institution, User
from sharing.choices import JobStatus, ReportTrigger
from sharing.management.commands.seed_demo_flags import FLAGS as TEST_VECTOR_FLAGS
from sharing.management.history import DEMO_CONSORTIUM_KEY, REFERENCE
from sharing.models import (
    ContributedCategory,
    DataKey,
    Flag,
    Inspection,
    InspectionError,
    InspectionHit,
    Report,
    ReportFile,
    Upload,
    UploadError,
    UsageCounter,
)
from sharing.reports.gathering import Period
from tests.factories import query_as_demo_member

pytestmark = pytest.mark.django_db
SIZE = 1_000
WRITTEN = (
    Institution,
    User,
    ApiKey,
    DataKey,
    Flag,
    ContributedCategory,
    Upload,
    UploadError,
    Inspection,
    InspectionHit,
    InspectionError,
    UsageCounter,
    Report,
    ReportFile,
    AuditEvent,
)


def seed() -> str:
    out = io.StringIO()
    with translation.override("en"):
        call_command("seed_demo", stdout=io.StringIO())
        call_command("seed_demo_flags", stdout=io.StringIO())
        call_command("seed_demo_consortium", "--flags", str(SIZE), stdout=out)
    return out.getvalue()


def everything() -> dict[str, list[dict[str, Any]]]:
    """Every row the seeding writes, as it is stored."""

    def rows(model: type[Model]) -> list[dict[str, Any]]:
        return list(model._default_manager.order_by("pk").values())

    return {model.__name__: rows(model) for model in WRITTEN}


@pytest.fixture(scope="module")
def seeded(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[str]:
    """Seeded once for the module, in a transaction rolled back at its end: each test's own
    transaction nests inside it."""
    var = tmp_path_factory.mktemp("var")
    with django_db_blocker.unblock(), override_settings(VAR_DIR=var), transaction.atomic():
        yield seed()
        transaction.set_rollback(True)


def test_five_members_in_three_sectors_a_regulator_and_eighteen_months_of_flags(seeded):
    members = Institution.objects.filter(kind=InstitutionKind.MEMBER)
    assert members.count() == 5
    assert set(members.values_list("sector", flat=True)) == {"bank", "consumer_finance", "microlender"}
    assert Institution.objects.filter(kind=InstitutionKind.REGULATOR).count() == 1
    history = Flag.objects.filter(reference__startswith=REFERENCE)
    assert history.count() == SIZE
    assert Flag.objects.count() == SIZE + len(TEST_VECTOR_FLAGS)
    assert set(history.values_list("institution_id", flat=True)) == set(members.values_list("pk", flat=True))
    now = timezone.now()
    oldest = history.order_by("created_at").first()
    assert oldest is not None
    assert now - oldest.created_at > timedelta(days=500)
    assert history.filter(created_at__gte=now - timedelta(days=30)).exists()
    assert history.filter(details__isnull=False).exists(), "sealed details, as a member sends them"
    assert history.filter(status="resolved").exists()
    assert Upload.objects.filter(status=JobStatus.SUCCEEDED, rejected_count__gt=0).count() == 5


def test_a_month_of_queries_answered_and_counted_as_the_api_does(seeded):
    asked = AuditEvent.objects.filter(action=AuditAction.QUERY)
    days = {timezone.localdate(moment) for moment in asked.values_list("occurred_at", flat=True)}
    assert len(days) >= 25
    assert min(days) >= timezone.localdate() - timedelta(days=29)
    assert sum(hits or 0 for hits in asked.values_list("hits_count", flat=True)) > 0
    counted = sum(UsageCounter.objects.filter(period="day").values_list("subjects", flat=True))
    assert counted == sum(subjects or 0 for subjects in asked.values_list("subjects_count", flat=True))
    assert not UsageCounter.objects.filter(period="minute").exists(), "pruned, as beat prunes them"
    assert len(set(asked.values_list("institution_id", flat=True))) == 5


def test_a_portfolio_inspected_twice_with_new_hits_the_second_time(seeded):
    first, second = Inspection.objects.order_by("pk")
    assert first.status == second.status == JobStatus.SUCCEEDED
    assert first.portfolio == second.portfolio
    assert second.previous == first
    assert first.finished_at is not None
    assert first.finished_at < timezone.now() - timedelta(days=7)
    assert first.hits_count
    assert second.hits_count
    assert second.new_hits_count
    assert InspectionError.objects.filter(inspection=second).exists()


def test_last_months_report_is_built_with_suppressed_cells(seeded):
    period = Period.month_before(timezone.localdate())
    report = Report.objects.get(trigger=ReportTrigger.SCHEDULED)
    assert (report.starts_on, report.ends_on) == (period.starts_on, period.ends_on)
    assert report.status == JobStatus.SUCCEEDED
    assert report.figures is not None
    suppressed = [hidden for table in report.figures["tables"] for row in table["suppressed"] for hidden in row]
    assert any(suppressed)
    assert not all(suppressed)
    assert ReportFile.objects.filter(report=report).exists()


def test_a_second_run_adds_nothing_and_changes_nothing(seeded):
    before = everything()

    printed = seed()

    assert everything() == before
    assert "nothing written" in printed


def test_the_audit_trail_of_the_history_verifies(seeded):
    call_command("seal_audit", stdout=io.StringIO())
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue()


def test_the_printed_borrower_is_found_by_other_members(seeded):
    line = next(line for line in seeded.splitlines() if line.startswith("Look up resident ID"))
    key_file = Path(line.split(" with the key file ")[1].split(":")[0])
    assert key_file.read_text() == DEMO_CONSORTIUM_KEY.hex() + "\n"
    others = int(line.rsplit(": ", 1)[1].split()[0])
    assert others >= 2
    resident = line.split("Look up resident ID ")[1].split()[0]
    answer = query_as_demo_member(resident, purpose="collection", correlation_id="1")
    [found] = answer.json()["subjects"]
    assert found["hit"] is True


def _seen(page: str) -> list[str]:
    """What the page shows of the seeded history: values, not words, which the portal may reword."""
    alpha = Institution.objects.get(code=demo.CAST[0].code)
    latest = Inspection.objects.order_by("-pk").first()
    newest = Flag.objects.filter(institution=alpha).order_by("-pk").first()
    report = Report.objects.get()
    key = ApiKey.objects.get(institution=alpha, name=demo.KEY_NAME)
    assert latest is not None
    assert newest is not None
    assert newest.reference is not None
    return {
        "portal:home": [latest.portfolio, str(latest.new_hits_count), key.prefix],
        "portal:flags": [newest.reference],
        "portal:uploads": [Upload.objects.get(institution=alpha).file_name],
        "portal:inspections": [latest.file_name],
        "portal:institutions": [cast.code for cast in (*demo.CAST[:2], *demo.CONSORTIUM)],
        "portal:report_list": [f"{report.starts_on:%Y-%m-%d}"],
        "portal:audit_events": [key.prefix],
    }[page]


@pytest.mark.parametrize(
    ("username", "page"),
    [
        ("alpha-analyst", "portal:home"),
        ("alpha-contributor", "portal:flags"),
        ("alpha-contributor", "portal:uploads"),
        ("alpha-analyst", "portal:inspections"),
        ("regulator-staff", "portal:institutions"),
        ("regulator-staff", "portal:report_list"),
        ("regulator-staff", "portal:audit_events"),
    ],
)
def test_the_pages_a_newcomer_opens_show_the_history(seeded, username, page):
    client = Client()
    client.force_login(User.objects.get(username=username))

    answer = client.get(reverse(page))

    assert answer.status_code == 200
    shown = answer.content.decode()
    assert [value for value in _seen(page) if value not in shown] == []


def test_the_test_vectors_answer_as_the_readme_says_with_the_consortium_there(seeded):
    answer = query_as_demo_member()

    [found] = answer.json()["subjects"]
    assert [(group["category"], group["institutions"]) for group in found["categories"]] == [
        ("fraud_suspected", 1),
        ("overdue_90", 1),
    ]
    # The consortium's loans are on other borrowers: the test vectors' figures are the two demo members' loans.
    assert answer.json()["lending_note"] is None
    lending = found["lending"]
    assert (lending["institutions_with_open_loans"], lending["open_amount_band"], lending["own_open_loans"]) == (
        1,
        "lt_10k",
        1,
    )
