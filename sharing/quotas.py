"""Quotas and rate limits on matching, counted in subjects per institution.

Each query adds its subjects to two counters, the current minute's and the current
day's (in the platform's time zone). The counters live in the database, so every web
process shares them; they are written in the request's own transaction, so a refused
or failed query counts for nothing.

A counter is split into shards, one per web process (its process id modulo
``SHARDS``): a query locks its own process's rows until it commits, so two
processes answering the same member never wait for each other. The window's count
is the sum of its shards: the caller's own, as updated, and the others' as last
committed. Queries in flight in other processes are therefore not seen until they
commit, which can let a window overrun its limit by what the other processes are
answering at that moment (at most 100 subjects each).
"""

import os
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.exceptions import Throttled

from accounts.models import Institution
from sharing.models import UsageCounter

SHARDS = 64
TABLE = UsageCounter._meta.db_table
UPSERT = (
    f"INSERT INTO {TABLE} (institution_id, period, starts_at, shard, subjects)"  # noqa: S608
    " VALUES (%s, 'minute', %s, %s, %s), (%s, 'day', %s, %s, %s)"
    " ON CONFLICT (institution_id, period, starts_at, shard)"
    f" DO UPDATE SET subjects = {TABLE}.subjects + EXCLUDED.subjects"
)
# Both windows' totals, the caller's shards included.
READ = (
    f"SELECT period, SUM(subjects) FROM {TABLE}"  # noqa: S608
    " WHERE institution_id = %s AND ((period = 'minute' AND starts_at = %s) OR (period = 'day' AND starts_at = %s))"
    " GROUP BY period"
)
# On PostgreSQL, the upsert and the other shards' sum in one statement: one round trip per query.
UPSERT_AND_READ = (
    f"WITH mine AS ({UPSERT} RETURNING period, starts_at, subjects)"  # noqa: S608
    " SELECT mine.period, mine.subjects + COALESCE("
    f"(SELECT SUM(other.subjects) FROM {TABLE} other WHERE other.institution_id = %s"
    " AND other.period = mine.period AND other.starts_at = mine.starts_at AND other.shard <> %s), 0)"
    " FROM mine"
)


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
    pk, shard = institution.pk, os.getpid() % SHARDS
    upsert = [pk, adapt(minute), shard, subjects, pk, adapt(day), shard, subjects]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(UPSERT_AND_READ, [*upsert, pk, shard])
        else:  # SQLite: no INSERT inside WITH
            cursor.execute(UPSERT, upsert)
            cursor.execute(READ, [pk, adapt(minute), adapt(day)])
        return {period: int(total) for period, total in cursor.fetchall()}


def prune(now: datetime | None = None) -> int:
    """Minute counters are worth nothing after their minute; day counters are kept for 90 days."""
    now = now or timezone.now()
    minutes = UsageCounter.objects.filter(period="minute", starts_at__lt=now - timedelta(hours=1))
    days = UsageCounter.objects.filter(period="day", starts_at__lt=now - timedelta(days=90))
    return minutes.delete()[0] + days.delete()[0]
