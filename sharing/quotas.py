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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
# On PostgreSQL, the upsert and the windows' totals as common table expressions ("counted":
# period, subjects), which the query's flags lookup takes in (sharing.matching): one round trip.
COUNTED = (
    f"mine AS ({UPSERT} RETURNING period, starts_at, subjects),"  # noqa: S608
    " counted AS (SELECT mine.period, mine.subjects + COALESCE("
    f"(SELECT SUM(other.subjects) FROM {TABLE} other WHERE other.institution_id = %s"
    " AND other.period = mine.period AND other.starts_at = mine.starts_at AND other.shard <> %s), 0) AS subjects"
    " FROM mine)"
)


class QuotaExceeded(Throttled):
    default_code = "quota_exceeded"


class RateExceeded(Throttled):
    default_code = "rate_exceeded"


@dataclass(frozen=True)
class Charge:
    """``subjects`` to count against an institution's windows at ``now``."""

    institution_id: int
    subjects: int
    now: datetime

    @classmethod
    def of(cls, institution: Institution, subjects: int, now: datetime | None = None) -> "Charge":
        return cls(institution.pk, subjects, timezone.localtime(now))

    @property
    def minute(self) -> datetime:
        return self.now.replace(second=0, microsecond=0)

    @property
    def day(self) -> datetime:
        return self.now.replace(hour=0, minute=0, second=0, microsecond=0)

    def params(self) -> list[Any]:
        """The parameters of ``COUNTED``, in its order: this process's shard of each window."""
        adapt, pk, shard = connection.ops.adapt_datetimefield_value, self.institution_id, os.getpid() % SHARDS
        return [pk, adapt(self.minute), shard, self.subjects, pk, adapt(self.day), shard, self.subjects, pk, shard]

    def add(self) -> dict[str, int]:
        """Count the subjects on their own (where no other statement takes ``COUNTED`` in); the new totals."""
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"WITH {COUNTED} SELECT period, subjects FROM counted", self.params())  # noqa: S608
            else:  # SQLite: no INSERT inside WITH
                adapt = connection.ops.adapt_datetimefield_value
                cursor.execute(UPSERT, self.params()[:8])
                cursor.execute(READ, [self.institution_id, adapt(self.minute), adapt(self.day)])
            return {period: int(total) for period, total in cursor.fetchall()}

    def judge(self, totals: dict[str, int]) -> None:
        """Refuse with 429 if, with these subjects, a window is over its limit (the request then rolls back)."""
        if totals["minute"] > settings.MATCH_RATE_PER_MINUTE:
            wait = (self.minute + timedelta(minutes=1) - self.now).total_seconds()
            raise RateExceeded(wait, f"More than {settings.MATCH_RATE_PER_MINUTE:,} subjects a minute; slow down.")
        if totals["day"] > settings.MATCH_DAILY_QUOTA:
            wait = (self.day + timedelta(days=1) - self.now).total_seconds()
            raise QuotaExceeded(wait, f"The daily quota of {settings.MATCH_DAILY_QUOTA:,} subjects is used up.")


def charge(institution: Institution, subjects: int, now: datetime | None = None) -> None:
    """Count ``subjects`` against the institution's minute rate and daily quota, or refuse with 429."""
    counting = Charge.of(institution, subjects, now)
    counting.judge(counting.add())


def prune(now: datetime | None = None) -> int:
    """Minute counters are worth nothing after their minute; day counters are kept for 90 days."""
    now = now or timezone.now()
    minutes = UsageCounter.objects.filter(period="minute", starts_at__lt=now - timedelta(hours=1))
    days = UsageCounter.objects.filter(period="day", starts_at__lt=now - timedelta(days=90))
    return minutes.delete()[0] + days.delete()[0]
