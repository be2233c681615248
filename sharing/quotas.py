"""Quotas and rate limits on matching, counted in subjects per institution.

Each query adds its subjects to two counters, the current minute's and the current
day's (in the platform's time zone), with one upsert each. The counters live in the
database, so every web process shares them; they are written in the request's own
transaction, so a refused or failed query counts for nothing.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.exceptions import Throttled

from accounts.models import Institution
from sharing.models import UsageCounter

TABLE = UsageCounter._meta.db_table
# Both counters in one statement, which returns their new totals: one round trip per query.
UPSERT = (
    f"INSERT INTO {TABLE} (institution_id, period, starts_at, subjects) VALUES (%s, %s, %s, %s), (%s, %s, %s, %s)"  # noqa: S608
    f" ON CONFLICT (institution_id, period, starts_at) DO UPDATE SET subjects = {TABLE}.subjects + EXCLUDED.subjects"
)
READ = f"SELECT period, subjects FROM {TABLE} WHERE institution_id = %s AND starts_at IN (%s, %s)"  # noqa: S608


class QuotaExceeded(Throttled):
    default_code = "quota_exceeded"


class RateExceeded(Throttled):
    default_code = "rate_exceeded"


def charge(institution: Institution, subjects: int, now: datetime | None = None) -> None:
    """Count ``subjects`` against the institution's minute rate and daily quota, or refuse with 429."""
    now = timezone.localtime(now)
    minute = now.replace(second=0, microsecond=0)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    totals = _add(institution, minute, day, subjects)
    if totals["minute"] > settings.MATCH_RATE_PER_MINUTE:
        wait = (minute + timedelta(minutes=1) - now).total_seconds()
        raise RateExceeded(wait, f"More than {settings.MATCH_RATE_PER_MINUTE:,} subjects a minute; slow down.")
    if totals["day"] > settings.MATCH_DAILY_QUOTA:
        wait = (day + timedelta(days=1) - now).total_seconds()
        raise QuotaExceeded(wait, f"The daily quota of {settings.MATCH_DAILY_QUOTA:,} subjects is used up.")


def _add(institution: Institution, minute: datetime, day: datetime, subjects: int) -> dict[str, int]:
    """Add to the minute's and the day's counters; their new totals by period."""
    adapt = connection.ops.adapt_datetimefield_value
    pk = institution.pk
    with connection.cursor() as cursor:
        if connection.features.can_return_columns_from_insert:
            cursor.execute(
                UPSERT + " RETURNING period, subjects",
                [pk, "minute", adapt(minute), subjects, pk, "day", adapt(day), subjects],
            )
        else:  # SQLite before 3.35
            cursor.execute(UPSERT, [pk, "minute", adapt(minute), subjects, pk, "day", adapt(day), subjects])
            cursor.execute(READ, [pk, adapt(minute), adapt(day)])
        return dict(cursor.fetchall())


def prune(now: datetime | None = None) -> int:
    """Minute counters are worth nothing after their minute; day counters are kept for 90 days."""
    now = now or timezone.now()
    minutes = UsageCounter.objects.filter(period="minute", starts_at__lt=now - timedelta(hours=1))
    days = UsageCounter.objects.filter(period="day", starts_at__lt=now - timedelta(days=90))
    return minutes.delete()[0] + days.delete()[0]
