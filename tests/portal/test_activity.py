"""Regulators see each member's recent contributions against its queries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.choices import ActorType, AuditAction
from accounts.models import AuditEvent
from portal import activity
from sharing.flags import services
from sharing.models import Flag
from tests.factories import flag_item

pytestmark = pytest.mark.django_db


def query_event(institution, subjects, when):
    AuditEvent.objects.create(
        occurred_at=when,
        action=AuditAction.QUERY,
        institution=institution,
        actor_type=ActorType.API_KEY,
        purpose="post_loan_review",
        subjects_count=subjects,
        hits_count=0,
    )


def test_flags_filed_and_subjects_asked_in_the_window(cast):
    now = timezone.now()
    alpha, beta = cast.alpha.institution, cast.beta.institution
    services.contribute(alpha, [flag_item(f"A-{n}") for n in range(3)])
    services.contribute(beta, [flag_item("B-OLD")])
    Flag.objects.filter(reference="B-OLD").update(created_at=now - timedelta(days=31))
    query_event(alpha, 40, now - timedelta(days=1))
    query_event(beta, 500, now - timedelta(days=2))
    query_event(beta, 7, now - timedelta(days=40))

    rows = {row.institution: row for row in activity.member_activity(now, days=30)}

    assert (rows[alpha].flags_filed, rows[alpha].queries, rows[alpha].subjects_asked) == (3, 1, 40)
    assert (rows[beta].flags_filed, rows[beta].queries, rows[beta].subjects_asked) == (0, 1, 500)
    assert rows[alpha].subjects_per_flag == pytest.approx(40 / 3)
    assert rows[beta].subjects_per_flag is None  # asked 500 and filed nothing: shown as no ratio
    assert rows[alpha].last_contribution is not None
    assert cast.regulator.institution not in rows


def test_the_activity_page_is_for_regulators_and_operators(cast, client):
    client.force_login(cast.regulator["regulator_staff"])
    page = client.get("/institutions/")
    client.force_login(cast.alpha["analyst"])
    refused = client.get("/institutions/")

    assert page.status_code == 200
    assert cast.alpha.institution.code in page.text
    assert refused.status_code == 403
    assert AuditEvent.objects.filter(action=AuditAction.INSTITUTION_LIST).count() == 1
