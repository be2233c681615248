"""Quotas and rate limits on matching, counted in subjects per institution.

Each query adds its subjects to two counters, the current minute's and the current
day's (in the platform's time zone). The counters live in the database, so every web
process shares them. A query is counted only if neither window would go over its
limit with it, in the statement that reads the windows' totals, so a refused query
counts for nothing without a transaction around it.

A counter is split into shards, one per web process (its process id modulo
``SHARDS``), so two processes answering the same member never wait for each other's
row lock. The window's count is the sum of its shards as last committed: queries in
flight in other processes are not seen until they commit, which can let a window
overrun its limit by what the other processes are answering at that moment (at most
100 subjects each).
"""

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.exceptions import Throttled

from accounts.models import Institution
from sharing.messages import message
from sharing.models import UsageCounter

SHARDS = 64
TABLE = UsageCounter._meta.db_table
# The SQL condition, beside ``counted``, that the charge is within both windows' limits (so it is counted).
WITHIN = "NOT EXISTS (SELECT FROM counted WHERE subjects > most)"


def counted(requires: str = "TRUE") -> str:
    """Common table expressions: the windows' totals with this charge's subjects (``counted``: period,
    subjects), and the subjects added to this process's shard of both windows if no total is over
    its window's limit and the SQL condition ``requires`` holds. Parameters: ``Charge.params()``, named.

    The count commits without waiting for the log flush: a count lost to a database crash is
    harmless. On PostgreSQL the query's flags lookup takes these in (sharing.matching.queries): one round trip.
    """
    # The table's name and the caller's fixed condition go into the text; values are parameters.
    return (
        "windows (period, starts_at, most) AS (SELECT * FROM (VALUES ('minute', %(quota_minute)s::timestamptz,"  # noqa: S608
        " %(quota_rate)s::bigint), ('day', %(quota_day)s::timestamptz, %(quota_daily)s::bigint)) AS w"
        " WHERE set_config('synchronous_commit', 'off', true) = 'off'),"
        " counted AS (SELECT windows.period, windows.starts_at, windows.most, %(quota_subjects)s::bigint + COALESCE("
        f"(SELECT SUM(other.subjects) FROM {TABLE} other WHERE other.institution_id = %(quota_institution)s"
        " AND other.period = windows.period AND other.starts_at = windows.starts_at), 0) AS subjects FROM windows),"
        f" mine AS (INSERT INTO {TABLE} (institution_id, period, starts_at, shard, subjects)"
        " SELECT %(quota_institution)s, period, starts_at, %(quota_shard)s, %(quota_subjects)s FROM counted"
        f" WHERE {WITHIN} AND {requires}"
        " ON CONFLICT (institution_id, period, starts_at, shard)"
        f" DO UPDATE SET subjects = {TABLE}.subjects + EXCLUDED.subjects)"
    )


ADD = f"WITH {counted()} SELECT period, subjects FROM counted"  # noqa: S608
# SQLite, which has no INSERT inside WITH: the totals, then the upsert, in a transaction.
READ = (
    f"SELECT period, SUM(subjects) FROM {TABLE}"  # noqa: S608
    " WHERE institution_id = %s AND ((period = 'minute' AND starts_at = %s) OR (period = 'day' AND starts_at = %s))"
    " GROUP BY period"
)
UPSERT = (
    f"INSERT INTO {TABLE} (institution_id, period, starts_at, shard, subjects)"  # noqa: S608
    " VALUES (%s, 'minute', %s, %s, %s), (%s, 'day', %s, %s, %s)"
    " ON CONFLICT (institution_id, period, starts_at, shard)"
    f" DO UPDATE SET subjects = {TABLE}.subjects + EXCLUDED.subjects"
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

    def params(self) -> dict[str, Any]:
        """The named parameters of ``counted``'s expressions."""
        minute, day = self.windows()
        return {
            "quota_minute": minute,
            "quota_rate": settings.MATCH_RATE_PER_MINUTE,
            "quota_day": day,
            "quota_daily": settings.MATCH_DAILY_QUOTA,
            "quota_subjects": self.subjects,
            "quota_institution": self.institution_id,
            "quota_shard": self.shard,
        }

    def windows(self) -> tuple[Any, Any]:
        """The starts of its minute and of its day, as the database takes them."""
        adapt = connection.ops.adapt_datetimefield_value
        return adapt(self.minute), adapt(self.day)

    @property
    def shard(self) -> int:
        return os.getpid() % SHARDS

    def add(self) -> dict[str, int]:
        """Count the subjects unless a window would go over its limit (where no other statement takes
        ``counted`` in); the windows' totals with them either way, for ``judge``."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(ADD, self.params())
                return {period: int(total) for period, total in cursor.fetchall()}
        (minute, day), pk, subjects = self.windows(), self.institution_id, self.subjects
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(READ, [pk, minute, day])
            totals = {"minute": subjects, "day": subjects}
            for period, total in cursor.fetchall():
                totals[period] += int(total)
            if self.refusal(totals) is None:
                cursor.execute(UPSERT, [pk, minute, self.shard, subjects, pk, day, self.shard, subjects])
        return totals

    def refusal(self, totals: dict[str, int]) -> Throttled | None:
        """What to answer if, with these subjects, a window is over its limit."""
        if totals["minute"] > settings.MATCH_RATE_PER_MINUTE:
            wait = (self.minute + timedelta(minutes=1) - self.now).total_seconds()
            return RateExceeded(
                wait,
                message("rate_exceeded", rate=f"{settings.MATCH_RATE_PER_MINUTE:,}"),
            )
        if totals["day"] > settings.MATCH_DAILY_QUOTA:
            wait = (self.day + timedelta(days=1) - self.now).total_seconds()
            return QuotaExceeded(
                wait,
                message("quota_exceeded", quota=f"{settings.MATCH_DAILY_QUOTA:,}"),
            )
        return None

    def judge(self, totals: dict[str, int]) -> None:
        """Refuse with 429 if, with these subjects, a window is over its limit (they were then not counted)."""
        refusal = self.refusal(totals)
        if refusal is not None:
            raise refusal


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
