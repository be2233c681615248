"""Retention: flags expire five years after their event ended; expired and withdrawn details are destroyed."""

from datetime import date

import pytest
from django.db.models import Q

from accounts.choices import AuditAction
from accounts.models import AuditEvent
from sharing.flags import services
from sharing.flags.checking import expiry
from sharing.keys.tokens import Peppers
from sharing.models import Flag, FlagToken
from sharing.tasks import apply_retention
from tests.factories import UploadFactory, flag_item, more_identifiers, stored_tokens
from tests.workers import run_on_worker

pytestmark = pytest.mark.django_db


# (event date, end date) of each flag; the tests run retention on 2027-01-10.
HISTORY = {
    "OLD-OPEN": (date(2022, 1, 10), None),
    "OLD-ENDED": (date(2021, 6, 1), date(2022, 1, 10)),
    "RECENT-END": (date(2021, 6, 1), date(2023, 5, 1)),
    "YOUNG": (date(2026, 1, 10), None),
    "NO-DETAILS": (date(2022, 1, 9), None),
}


def file_in_the_past(institution, reference, event_date, end_date=None, **fields):
    """A flag as if filed back then: filing today refuses events already past retention."""
    services.contribute(institution, [flag_item(reference, event_date="2026-01-10", **fields)])
    Flag.objects.filter(institution=institution, reference=reference).update(
        event_date=event_date,
        end_date=end_date,
        status="resolved" if end_date else "active",
        expires_on=expiry(end_date or event_date),
    )


@pytest.fixture
def flags(cast):
    for reference, (event_date, end_date) in HISTORY.items():
        details = None if reference == "NO-DETAILS" else flag_item()["details"]
        file_in_the_past(cast.alpha.institution, reference, event_date, end_date, details=details)
    return {flag.reference: flag for flag in Flag.objects.all()}


def test_retention_counts_five_years_from_the_end_or_else_the_event():
    assert expiry(date(2022, 1, 10)) == date(2027, 1, 10)
    assert expiry(date(2024, 2, 29)) == date(2029, 3, 1)


def test_flags_past_retention_expire_and_lose_their_details(cast, flags):
    expired, shredded, _erased = services.apply_retention(today=date(2027, 1, 10))

    assert (expired, shredded) == (3, 2)
    state = {name: _state(flag) for name, flag in flags.items()}
    assert state == {
        "OLD-OPEN": ("expired", True),
        "OLD-ENDED": ("expired", True),
        "NO-DETAILS": ("expired", True),
        "RECENT-END": ("resolved", False),
        "YOUNG": ("active", False),
    }
    assert Flag.objects.get(pk=flags["OLD-OPEN"].pk).details_destroyed_at is not None
    expire = AuditEvent.objects.get(action=AuditAction.FLAG_EXPIRE)
    shred = AuditEvent.objects.get(action=AuditAction.FLAG_SHRED)
    assert (expire.institution_id, expire.subjects_count, expire.actor_type) == (cast.alpha.institution.pk, 3, "system")
    assert (shred.institution_id, shred.subjects_count) == (cast.alpha.institution.pk, 2)


def _state(flag):
    flag.refresh_from_db()
    return flag.status, flag.details is None


def test_expired_flags_are_no_longer_tied_to_a_borrower(cast, flags):
    """Art. 16: kept five years, then deleted. What stays is what the reports count."""
    file_in_the_past(cast.beta.institution, "BETA-OLD", date(2021, 12, 1))
    upload = UploadFactory.create(institution=cast.alpha.institution)
    Flag.objects.filter(pk=flags["OLD-OPEN"].pk).update(source_upload=upload, source_row=7)
    before = Flag.objects.get(pk=flags["OLD-OPEN"].pk)

    erased = services.apply_retention(today=date(2027, 1, 10)).erased

    assert erased == 4
    gone = Flag.objects.filter(status="expired")
    linked = Q(tokens__isnull=False) | Q(reference__isnull=False) | Q(source_upload__isnull=False)
    assert gone.count() == 4
    assert not gone.filter(linked | Q(source_row__isnull=False)).exists()
    after = Flag.objects.get(pk=before.pk)
    kept = ("institution_id", "category", "event_date", "end_date", "amount_band", "notice_date")
    assert [getattr(after, name) for name in kept] == [getattr(before, name) for name in kept]
    live = Flag.objects.exclude(status="expired")
    assert set(live.values_list("reference", flat=True)) == {"RECENT-END", "YOUNG"}
    assert not live.filter(tokens__isnull=True).exists()
    erase = AuditEvent.objects.filter(action=AuditAction.FLAG_ERASE).order_by("institution_id")
    assert [(event.institution_id, event.subjects_count) for event in erase] == [
        (cast.alpha.institution.pk, 3),
        (cast.beta.institution.pk, 1),
    ]


def test_retention_erases_every_token_of_an_expired_flag_and_none_of_a_live_one(cast):
    three = more_identifiers(("mobile", "+8613800138000"), ("passport", "CHN:E12345678"))
    file_in_the_past(cast.alpha.institution, "OLD-THREE", date(2021, 12, 1), **three)
    file_in_the_past(cast.alpha.institution, "YOUNG-THREE", date(2026, 1, 10), **three)
    old, young = Flag.objects.get(reference="OLD-THREE"), Flag.objects.get(reference="YOUNG-THREE")
    assert set(stored_tokens(old)) == set(stored_tokens(young)) == {"cnid", "mobile", "passport"}

    assert services.apply_retention(today=date(2027, 1, 10)).erased == 1

    assert not FlagToken.objects.filter(flag=old).exists()
    assert Flag.objects.get(pk=old.pk).reference is None
    assert set(stored_tokens(young)) == {"cnid", "mobile", "passport"}
    assert FlagToken.objects.count() == 3


def test_an_erased_reference_may_be_used_again(cast, flags):
    services.apply_retention(today=date(2027, 1, 10))

    services.contribute(cast.alpha.institution, [flag_item("OLD-OPEN", event_date="2026-10-01")])

    assert Flag.objects.get(reference="OLD-OPEN").status == "active"
    assert Flag.objects.filter(institution=cast.alpha.institution).count() == 6


def test_withdrawn_flags_left_with_details_lose_them_on_the_next_run(flags):
    Flag.objects.filter(reference="YOUNG").update(status="withdrawn")

    services.apply_retention(today=date(2026, 11, 29))

    assert Flag.objects.get(reference="YOUNG").details is None
    assert Flag.objects.get(reference="RECENT-END").details is not None


def test_withdrawn_flags_are_erased_when_their_retention_ends(flags):
    Flag.objects.filter(reference__in=["OLD-OPEN", "YOUNG"]).update(status="withdrawn")

    services.apply_retention(today=date(2027, 1, 10))

    old, young = Flag.objects.get(pk=flags["OLD-OPEN"].pk), Flag.objects.get(pk=flags["YOUNG"].pk)
    assert (old.status, old.reference, stored_tokens(old)) == ("withdrawn", None, {})
    assert (young.status, young.reference) == ("withdrawn", "YOUNG")
    assert stored_tokens(young)


def test_running_retention_again_does_nothing_more(flags):
    services.apply_retention(today=date(2027, 1, 10))

    assert services.apply_retention(today=date(2027, 1, 10)) == (0, 0, 0)


def test_rekeying_passes_over_erased_flags(flags, settings):
    services.apply_retention(today=date(2027, 1, 10))
    peppers = settings.PLATFORM_PEPPERS
    settings.PLATFORM_PEPPERS = Peppers({**peppers.by_version, peppers.version + 1: bytes(range(32, 64))})

    assert services.rekey_tokens() == (2, 0)


def test_the_daily_beat_entry_runs_retention(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["apply-flag-retention"]

    assert entry["task"] == apply_retention.name
    assert entry["options"]["expires"] < 24 * 3600


@pytest.mark.worker
def test_a_real_worker_applies_retention(celery_worker, cast, settings, client_for):
    """Through the broker: flags filed over five years ago (the clock moved on) expire."""
    services.contribute(cast.alpha.institution, [flag_item("A-1", event_date="2026-01-01")])
    Flag.objects.update(expires_on=date(2026, 1, 1))

    assert tuple(run_on_worker(apply_retention)) == (1, 1, 1)  # expired, shredded, erased

    flag = Flag.objects.get()
    assert (flag.status, flag.details, stored_tokens(flag), flag.reference) == ("expired", None, {}, None)


def test_the_api_shows_an_erased_flag_without_its_reference(cast, flags, client_for):
    services.apply_retention(today=date(2027, 1, 10))

    answer = client_for(cast.alpha["auditor"]).get(f"/api/v1/flags/{flags['OLD-OPEN'].pk}")

    body = answer.json()
    assert (body["reference"], body["status"], body["details"], body["source_upload"]) == (None, "expired", None, None)
    assert body["category"] == "overdue_90"


def test_a_run_erases_every_flag_due_whatever_the_batches(cast, flags, monkeypatch):
    """Batches read on from the previous one's last id: three flags due, batches of one, all erased once."""
    monkeypatch.setattr(services, "ERASE_BATCH", 1)

    _expired, _shredded, erased = services.apply_retention(today=date(2027, 1, 10))

    assert erased == 3
    assert not Flag.objects.filter(status="expired", reference__isnull=False).exists()
    assert not FlagToken.objects.filter(flag__status="expired").exists()
    events = AuditEvent.objects.filter(action=AuditAction.FLAG_ERASE)
    assert [event.subjects_count for event in events] == [1, 1, 1]
    # A second run finds nothing left to erase.
    assert services.apply_retention(today=date(2027, 1, 10)).erased == 0
