"""An analyst's inspections in the portal: the list and form, one inspection's counts, what is new
since the portfolio's last inspection, and the downloads; another institution's is 404."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.timezone import localtime

from accounts.choices import AuditAction
from accounts.models import AuditEvent
from memberkit.vocabulary import LENDING_THRESHOLD_FIGURES
from sharing.keys.tokens import peppers, platform_token
from sharing.models import ContributedLoans, QueryRecord
from tests.factories import PEOPLE, InspectionFactory, member_token_of
from tests.sharing.matching.test_inspections import LOANS, add_flag, inspect, owners, portfolio, run  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def inspected(cast, client_for, owners):  # noqa: F811
    """Two inspections of one portfolio, with a new hit between them."""
    api = client_for(cast.alpha["analyst"])
    first = run(inspect(api, portfolio(LOANS)).json()["id"])
    add_flag(owners["beta"], "B-9", 2, "overdue_90", "2026-07-01")  # L-2 is hit for the first time
    second = run(inspect(api, portfolio(LOANS)).json()["id"])
    return first, second


def test_the_list_shows_the_institutions_inspections_and_the_form(inspected, cast, client):
    client.force_login(cast.alpha["analyst"])

    page = client.get("/inspections/")

    assert page.status_code == 200
    assert page.text.count('href="/inspections/') == 2
    assert 'data-api="/api/v1/inspections"' in page.text
    assert 'name="portfolio"' in page.text
    assert '<option value="consumer-2026">' in page.text  # portfolios already inspected, offered again
    assert AuditEvent.objects.filter(action=AuditAction.INSPECTION_LIST).exists()


def test_an_inspection_shows_its_counts_and_what_is_new_since_last_time(inspected, cast, client):
    first, second = inspected
    client.force_login(cast.alpha["analyst"])

    page = client.get(f"/inspections/{second.pk}/", HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    # Alpha contributes overdue flags only, so it sees those and the protective identity thefts.
    assert page.context["by_category"] == [("Overdue 90 days or more", 3), ("Identity theft (protective)", 1)]
    assert [(hit.correlation_id, hit.category) for hit in page.context["new_hits"]] == [("L-2", "overdue_90")]
    assert f'id="new_hits_count">{second.new_hits_count}' in page.text.replace("\n", "")
    assert f"since the inspection of {localtime(first.created_at):%Y-%m-%d}" in page.text
    assert f"/api/v1/inspections/{second.pk}/results?format=csv" in page.text
    assert AuditEvent.objects.filter(action=AuditAction.INSPECTION_VIEW, target_id=str(second.pk)).exists()


def test_a_first_inspection_says_so_instead_of_counting_new_hits(inspected, cast, client):
    first, _second = inspected
    client.force_login(cast.alpha["analyst"])

    page = client.get(f"/inspections/{first.pk}/", HTTP_ACCEPT_LANGUAGE="en")

    assert "first inspection" in page.text
    assert page.context["new_hits"] == []


def test_the_results_link_downloads_the_csv(inspected, cast, client):
    _first, second = inspected
    client.force_login(cast.alpha["analyst"])

    response = client.get(f"/api/v1/inspections/{second.pk}/results?format=csv")

    assert response.status_code == 200
    lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {(line["correlation_id"], line["category"], line["new"]) for line in lines} >= {
        ("L-2", "overdue_90", "true")
    }


def test_another_institution_gets_404_and_other_roles_403(inspected, cast, client):
    _first, second = inspected

    client.force_login(cast.beta["analyst"])
    theirs = client.get(f"/inspections/{second.pk}/")
    client.force_login(cast.alpha["contributor"])
    refused = [client.get(url).status_code for url in ("/inspections/", f"/inspections/{second.pk}/")]

    assert theirs.status_code == 404
    assert refused == [403, 403]


def test_the_list_and_its_suggestions_hold_only_the_institutions_own_inspections(inspected, cast, client):
    InspectionFactory.create(institution=cast.beta.institution, portfolio="beta-secret-book")
    client.force_login(cast.alpha["analyst"])

    page = client.get("/inspections/")

    assert "beta-secret-book" not in page.text
    assert len(page.context["inspections"]) == 2


def test_a_failed_inspection_says_why_in_the_persons_language(cast, client):
    failed = InspectionFactory.create(
        institution=cast.alpha.institution,
        status="failed",
        error_code="too_many_rows",
        error="A file holds at most 10,000,000 rows.",
    )
    client.force_login(cast.alpha["analyst"])

    page = client.get(f"/inspections/{failed.pk}/")

    assert "文件行数超过单个任务的上限" in page.text
    assert '<span class="muted" lang="en">A file holds at most 10,000,000 rows.</span>' in page.text
    assert 'id="job-results" hidden' in page.text


def test_an_empty_inspection_that_succeeded_is_at_100_percent(cast, client):
    empty = InspectionFactory.create(
        institution=cast.alpha.institution,
        status="succeeded",
        rows_total=0,
        hits_count=0,
    )
    client.force_login(cast.alpha["analyst"])

    page = client.get(f"/inspections/{empty.pk}/")

    assert '<span id="job-percent">100%</span>' in page.text


def test_the_form_takes_a_threshold_for_each_figure_that_has_one(inspected, cast, client):
    client.force_login(cast.alpha["analyst"])

    page = client.get("/inspections/", HTTP_ACCEPT_LANGUAGE="en")

    for name in LENDING_THRESHOLD_FIGURES:
        assert f'name="lending_thresholds.{name}" type="number" min="1"' in page.text
    assert 'name="lending_thresholds.own_open_loans"' not in page.text
    assert "Other lenders that queried, 30 days" in page.text


def test_an_inspection_without_loan_contributions_says_why_it_has_no_figures(inspected, cast, client):
    _first, second = inspected
    client.force_login(cast.alpha["analyst"])

    page = client.get(f"/inspections/{second.pk}/", HTTP_ACCEPT_LANGUAGE="en")

    assert "Multi-lender figures need loan contributions" in page.text
    assert 'id="figures"' not in page.text


def test_an_inspection_shows_its_subjects_figures_new_first_without_naming_a_lender(cast, client_for, client, owners):  # noqa: F811
    ContributedLoans.objects.create(institution=cast.alpha.institution, last_contributed_at=timezone.now())
    api = client_for(cast.alpha["analyst"])
    run(inspect(api, portfolio(LOANS)).json()["id"])
    for day in (1, 2):  # two other lenders looked L-1's borrower up for a loan
        QueryRecord.objects.create(
            token=platform_token(member_token_of(PEOPLE[1]), peppers()),
            day=timezone.localdate() - timedelta(days=day),
            institution=owners["beta" if day == 1 else "gamma"],
            purpose="loan_application",
            pepper_version=1,
        )
    second = run(inspect(api, portfolio(LOANS), lending_thresholds='{"institutions_queried_7d": 2}').json()["id"])
    client.force_login(cast.alpha["analyst"])

    page = client.get(f"/inspections/{second.pk}/", HTTP_ACCEPT_LANGUAGE="en")

    rows = page.context["figure_rows"]
    assert [(row["correlation_id"], row["values"][:4], row["new"]) for row in rows] == [("L-1", [2, 2, 2, 0], True)]
    assert second.new_hits_count == 1
    assert f'id="lending_count">{second.lending_count}' in page.text
    assert "New when a figure rose by at least: Other lenders that queried, 7 days 2" in page.text
    assert owners["beta"].name_en not in page.text
    assert owners["gamma"].name_en not in page.text
