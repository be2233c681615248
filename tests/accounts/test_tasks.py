"""Housekeeping tasks: called directly, and run by a real worker on the real broker."""

from datetime import timedelta

import pytest
from axes.models import AccessLog
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.tasks import clear_expired_sessions, prune_sign_in_logs
from tests.workers import run_on_worker


def make_sessions() -> tuple[str, str]:
    expired, live = SessionStore(), SessionStore()
    expired.set_expiry(-60)
    expired.create()
    live.set_expiry(3600)
    live.create()
    assert expired.session_key is not None
    assert live.session_key is not None
    return expired.session_key, live.session_key


@pytest.mark.django_db
def test_clear_expired_sessions_keeps_live_ones():
    expired, live = make_sessions()

    assert clear_expired_sessions() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]
    assert expired != live


@pytest.mark.django_db
def test_prune_sign_in_logs_keeps_ninety_days():
    old = AccessLog.objects.create(ip_address="192.0.2.1", username="a", user_agent="x", path_info="/sign-in/")
    AccessLog.objects.filter(pk=old.pk).update(attempt_time=timezone.now() - timedelta(days=91))
    recent = AccessLog.objects.create(ip_address="192.0.2.1", username="a", user_agent="x", path_info="/sign-in/")

    assert prune_sign_in_logs() == 1
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [recent.pk]


@pytest.mark.worker
def test_a_real_worker_runs_the_task_from_the_broker(celery_worker):
    expired, live = make_sessions()

    run_on_worker(clear_expired_sessions, queue=celery_worker)

    assert not Session.objects.filter(session_key=expired).exists()
    assert Session.objects.filter(session_key=live).exists()


def test_beat_schedules_housekeeping_with_expiries_shorter_than_the_interval():
    from config.celery import app

    schedule = app.conf.beat_schedule
    assert {entry["task"] for entry in schedule.values()} == {
        "accounts.tasks.clear_expired_sessions",
        "accounts.tasks.prune_sign_in_logs",
        "accounts.tasks.seal_audit_events",
        "accounts.tasks.verify_audit_trail",
        "sharing.tasks.apply_retention",
        "sharing.tasks.resume_stalled_uploads",
        "sharing.tasks.prune_idempotency_keys",
        "sharing.tasks.prune_usage_counters",
        "sharing.tasks.build_monthly_report",
    }
    for entry in schedule.values():
        assert entry["task"] in app.tasks
        assert entry["options"]["expires"] < 24 * 3600
    assert schedule["seal-audit-events"]["options"]["expires"] < 5 * 60
    assert schedule["resume-stalled-uploads"]["options"]["expires"] < 15 * 60


def test_celery_is_configured_for_safe_delivery():
    from config.celery import app

    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.task_time_limit
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit


@pytest.mark.worker
def test_a_real_worker_seals_the_audit_trail(celery_worker, cast):
    from accounts.audit import record
    from accounts.choices import AuditAction
    from accounts.models import AuditCheckpoint
    from accounts.sealing import verify_trail
    from accounts.tasks import seal_audit_events

    for _ in range(3):
        record(AuditAction.ME_VIEW, actor=cast.alpha["analyst"])

    assert run_on_worker(seal_audit_events, queue=celery_worker) == 1

    checkpoint = AuditCheckpoint.objects.get()
    assert (checkpoint.first_seq, checkpoint.last_seq) == (1, 3)
    assert verify_trail().intact
