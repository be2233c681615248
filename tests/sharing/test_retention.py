"""Retention: flags expire five years after their event ended; expired and withdrawn details are destroyed."""

from datetime import date

import pytest

from accounts.choices import AuditAction
from accounts.models import AuditEvent
from sharing import services
from sharing.models import Flag
from sharing.rows import expiry
from sharing.tasks import apply_retention
from tests.factories import flag_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def flags(cast):
    items = [
        flag_item("OLD-OPEN", event_date="2022-01-10"),
        flag_item("OLD-ENDED", event_date="2021-06-01", end_date="2022-01-10"),
        flag_item("RECENT-END", event_date="2021-06-01", end_date="2023-05-01"),
        flag_item("YOUNG", event_date="2026-01-10"),
        flag_item("NO-DETAILS", event_date="2022-01-09", details=None),
    ]
    services.contribute(cast.alpha.institution, items)
    return {flag.reference: flag for flag in Flag.objects.all()}


def test_retention_counts_five_years_from_the_end_or_else_the_event():
    assert expiry(date(2022, 1, 10)) == date(2027, 1, 10)
    assert expiry(date(2024, 2, 29)) == date(2029, 3, 1)


def test_flags_past_retention_expire_and_lose_their_details(cast, flags):
    expired, shredded = services.expire_and_shred(today=date(2027, 1, 10))

    assert (expired, shredded) == (3, 2)
    state = {flag.reference: (flag.status, flag.details is None) for flag in Flag.objects.all()}
    assert state == {
        "OLD-OPEN": ("expired", True),
        "OLD-ENDED": ("expired", True),
        "NO-DETAILS": ("expired", True),
        "RECENT-END": ("resolved", False),
        "YOUNG": ("active", False),
    }
    assert Flag.objects.get(reference="OLD-OPEN").details_destroyed_at is not None
    expire = AuditEvent.objects.get(action=AuditAction.FLAG_EXPIRE)
    shred = AuditEvent.objects.get(action=AuditAction.FLAG_SHRED)
    assert (expire.institution_id, expire.subjects_count, expire.actor_type) == (cast.alpha.institution.pk, 3, "system")
    assert (shred.institution_id, shred.subjects_count) == (cast.alpha.institution.pk, 2)


def test_withdrawn_flags_left_with_details_lose_them_on_the_next_run(flags):
    Flag.objects.filter(reference="YOUNG").update(status="withdrawn")

    services.expire_and_shred(today=date(2026, 11, 29))

    assert Flag.objects.get(reference="YOUNG").details is None
    assert Flag.objects.get(reference="RECENT-END").details is not None


def test_running_retention_again_does_nothing_more(flags):
    services.expire_and_shred(today=date(2027, 1, 10))

    assert services.expire_and_shred(today=date(2027, 1, 10)) == (0, 0)


def test_the_daily_beat_entry_runs_retention(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["apply-flag-retention"]

    assert entry["task"] == apply_retention.name
    assert entry["options"]["expires"] < 24 * 3600


@pytest.mark.worker
def test_a_real_worker_applies_retention(celery_worker, cast, settings, client_for):
    """Through the broker: flags filed over five years ago (the clock moved on) expire."""
    services.contribute(cast.alpha.institution, [flag_item("A-1", event_date="2026-01-01")])
    Flag.objects.update(expires_on=date(2026, 1, 1))

    result = apply_retention.apply_async()
    _wait_for(lambda: Flag.objects.get().status == "expired")

    assert Flag.objects.get().details is None
    assert result.id


def _wait_for(condition, seconds=30):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("the worker did not get there in time")
