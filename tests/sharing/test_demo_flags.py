"""``manage.py seed_demo_flags``: the demo members can query at once, and find each other's flags."""

import io

import pytest
from django.core.management import CommandError, call_command

from sharing.management.commands.seed_demo_flags import FLAGS
from sharing.models import Flag
from tests.factories import query_as_demo_member

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo_flags", stdout=out)
    return out.getvalue()


def test_the_demo_flags_are_made_once_and_answer_a_query_of_the_documented_identifier():
    seed()
    printed = seed()

    assert Flag.objects.count() == len(FLAGS)
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
