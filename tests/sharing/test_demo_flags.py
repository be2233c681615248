"""``manage.py seed_demo_flags``: the demo members can query at once, find each other's flags (some by a second
identifier) and see each other's loans counted."""

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from rest_framework.test import APIClient

from accounts import demo
from memberkit.identifiers import member_token
from sharing.management.commands.seed_demo_flags import FLAGS, LOANS, MOBILE
from sharing.management.history import DEMO_CONSORTIUM_KEY
from sharing.models import ContributedLoans, Flag, FlagToken, Loan, LoanToken
from tests.factories import query_as_demo_member

pytestmark = pytest.mark.django_db


def ask_as_first_member(id_type: str, raw: str) -> Any:
    """The first demo member's query of one identifier of any type, under its demo API key."""
    _prefix, secret = demo.demo_key_material(demo.CAST[0].code)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    subject = {"correlation_id": "demo", "id_type": id_type, "token": member_token(id_type, raw, DEMO_CONSORTIUM_KEY)}
    return client.post("/api/v1/queries", {"purpose": "post_loan_review", "subjects": [subject]}, format="json")


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo_flags", stdout=out)
    return out.getvalue()


def test_the_demo_flags_are_made_once_and_answer_a_query_of_the_documented_identifier():
    seed()
    printed = seed()

    assert Flag.objects.count() == len(FLAGS)
    assert Loan.objects.count() == len(LOANS)
    assert FlagToken.objects.count() == sum(len(identifiers) for _member, _ref, identifiers, *_ in FLAGS)
    assert "11010519491231002X" in printed
    answer = query_as_demo_member()

    assert answer.status_code == 200, answer.content
    [found] = answer.json()["subjects"]
    assert found["hit"] is True
    assert [(group["category"], group["institutions"]) for group in found["categories"]] == [
        ("fraud_suspected", 1),
        ("overdue_90", 1),
    ]
    assert [group["category"] for group in found["own"]] == ["overdue_90"]


def test_some_demo_flags_carry_several_identifiers_and_are_found_by_a_second_one():
    seed()
    several = Flag.objects.annotate(n=Count("tokens")).filter(n__gte=2)
    assert sorted(several.values_list("reference", "n")) == [("DEMO-A-1", 2), ("DEMO-B-2", 3)]

    answer = ask_as_first_member(*MOBILE)

    [found] = answer.json()["subjects"]
    assert found["hit"] is True
    # The second member's fraud_suspected was filed under the resident ID first, the mobile number second.
    assert [(group["category"], group["institutions"]) for group in found["categories"]] == [("fraud_suspected", 1)]
    assert [(group["category"], group["flags"]) for group in found["own"]] == [
        ("fraud_suspected", 1),
        ("overdue_90", 1),
    ]


def test_both_demo_members_report_loans_so_the_multi_lender_figures_show_the_others():
    seed()
    assert set(ContributedLoans.objects.values_list("institution__code", flat=True)) == {
        cast.code for cast in demo.CAST[:2]
    }

    answer = query_as_demo_member()

    assert answer.json()["lending_note"] is None
    [found] = answer.json()["subjects"]
    assert found["lending"] == {
        "institutions_queried_7d": 0,
        "institutions_queried_30d": 0,
        "institutions_queried_90d": 0,
        "institutions_with_open_loans": 1,
        "loans_opened_90d": 1,
        "loans_opened_180d": 1,
        "open_amount_band": "lt_10k",
        "own_queries_90d": 0,
        "own_open_loans": 1,
        "own_loans_opened_180d": 0,
    }


def test_a_second_run_changes_no_flag_loan_or_stamp():
    seed()
    before = [
        list(model.objects.order_by("pk").values()) for model in (Flag, FlagToken, Loan, LoanToken, ContributedLoans)
    ]

    seed()

    after = [
        list(model.objects.order_by("pk").values()) for model in (Flag, FlagToken, Loan, LoanToken, ContributedLoans)
    ]
    assert after == before


def test_demo_flags_need_the_demo_cast_and_never_run_in_production(settings):
    with pytest.raises(CommandError, match="run seed_demo first"):
        call_command("seed_demo_flags", stdout=io.StringIO())
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="never runs in production"):
        call_command("seed_demo_flags", stdout=io.StringIO())


def test_the_demo_consortium_needs_the_demo_cast_and_never_runs_in_production(settings):
    with pytest.raises(CommandError, match="run seed_demo first"):
        call_command("seed_demo_consortium", "--flags", "10", stdout=io.StringIO())
    assert not Flag.objects.exists()
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="never runs in production"):
        call_command("seed_demo_consortium", stdout=io.StringIO())
