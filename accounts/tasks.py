"""Housekeeping that beat runs on a schedule."""

from axes.handlers.proxy import AxesProxyHandler
from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts import sealing

SIGN_IN_LOG_DAYS = 90


@shared_task(time_limit=600, soft_time_limit=590)
def clear_expired_sessions() -> int:
    """Delete sessions past their expiry, so that a stolen old cookie is worth nothing."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@shared_task(time_limit=600, soft_time_limit=590)
def prune_sign_in_logs() -> int:
    """Keep django-axes' sign-in log for 90 days; the audit trail keeps the lasting record."""
    return int(AxesProxyHandler.reset_logs(age_days=SIGN_IN_LOG_DAYS))


@shared_task(time_limit=1800, soft_time_limit=1790)
def seal_audit_events() -> int:
    """Chain, checkpoint and sign the audit events that no open transaction can still join."""
    return len(sealing.seal_pending())


@shared_task(time_limit=3 * 3600, soft_time_limit=3 * 3600 - 10)
def verify_audit_trail() -> bool:
    """The nightly full check; a failure is logged as an error and listed in the admin."""
    return sealing.verify_and_record().intact
