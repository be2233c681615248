"""A member's home page: its contributions, recent queries, jobs in progress and latest
inspection, each part for the roles that see it, and never another institution's."""

import pytest

from sharing.flags import services
from tests.factories import UploadFactory, flag_item
from tests.sharing.matching.test_inspections import LOANS, add_flag, inspect, owners, portfolio, run  # noqa: F401
from tests.sharing.matching.test_queries_api import ask

pytestmark = pytest.mark.django_db


def board_of(client, person):
    client.force_login(person)
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response, response.context.get("board")


def test_contributors_see_their_active_flags_by_category_and_uploads_in_progress(cast, client):
    services.contribute(
        cast.alpha.institution,
        [flag_item("A-1"), flag_item("A-2"), flag_item("A-3", category="fraud_confirmed")],
    )
    services.contribute(cast.beta.institution, [flag_item("B-1", category="fraud_confirmed")])
    UploadFactory.create(
        institution=cast.alpha.institution,
        file_name="nightly.csv",
        status="running",
        rows_total=200,
        rows_done=50,
    )
    UploadFactory.create(institution=cast.beta.institution, file_name="theirs.csv")

    response, board = board_of(client, cast.alpha["contributor"])

    assert board.active_flags == [("Overdue 90 days or more", 2), ("Confirmed fraud", 1)]
    assert (board.active_total, board.filed_recently) == (3, 3)
    assert [upload.file_name for upload in board.running_uploads] == ["nightly.csv"]
    assert "3 active flags" in response.text
    assert 'value="25"' in response.text  # the upload's progress bar, at 50 of 200 rows
    assert "theirs.csv" not in response.text
    assert not board.sees_queries
    assert 'id="recent-queries"' not in response.text


def test_analysts_see_recent_queries_whether_they_may_query_and_the_latest_inspection(cast, client, client_for, owners):  # noqa: F811
    api = client_for(cast.alpha["analyst"])
    assert ask(api, ["11010519491231002X"]).status_code == 200
    first = run(inspect(api, portfolio(LOANS)).json()["id"])
    add_flag(owners["beta"], "B-9", 2, "overdue_90", "2026-07-01")
    second = run(inspect(api, portfolio(LOANS)).json()["id"])
    assert ask(client_for(cast.beta["analyst"]), ["11010519491231002X"]).status_code == 200

    response, board = board_of(client, cast.alpha["analyst"])

    assert [(event.subjects_count, event.hits_count, purpose) for event, purpose in board.recent_queries] == [
        (1, 1, "Post-loan review")
    ]
    assert board.may_query
    assert "may query until" in response.text
    assert board.latest_inspection == second
    assert (second.previous_id, second.new_hits_count) == (first.pk, 1)
    assert 'id="latest-inspection"' in response.text
    assert not board.sees_contributions


def test_a_member_that_has_not_contributed_is_told_it_may_not_query(cast, client):
    response, board = board_of(client, cast.beta["auditor"])

    assert not board.may_query
    assert "may not query" in response.text
    assert board.sees_contributions
    assert not board.sees_inspections


def test_regulators_have_no_member_dashboard(cast, client):
    _response, board = board_of(client, cast.regulator["regulator_staff"])

    assert board is None
