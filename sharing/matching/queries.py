"""Matching: what other members have flagged about the borrowers a member asks after.

An answer never says which institution contributed, nor its references or
details: per subject and category, only how many distinct institutions flagged
it, the month of the most recent event, and whether any such flag is disputed or
resolved. The caller's own flags are reported apart, as its own. Reciprocity
decides what a member may see (``visible_categories``).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection

from accounts.models import Institution
from memberkit.vocabulary import CONSENT_REQUIRED, consent_refusal
from sharing.choices import PROTECTIVE_CATEGORIES, FlagStatus
from sharing.matching import quotas
from sharing.models import ContributedCategory, Flag

# Expired and withdrawn flags are no longer shared.
SHARED_STATUSES = (FlagStatus.ACTIVE, FlagStatus.RESOLVED)


def consent_missing(purpose: str, consent_reference: str | None) -> bool:
    """The consent rule (credit-reporting rule, art. 18): a query or inspection for a loan application or
    a credit review needs the reference of the borrowers' written authorization; a blank one is none.

    Written once, in the member kit (``vocabulary.consent_refusal``), which the client asks as well.
    """
    return consent_refusal(purpose, consent_reference) == CONSENT_REQUIRED


class NotReciprocal(Exception):
    """The institution has contributed nothing within the reciprocity window."""


def visible_categories(institution: Institution, now: datetime) -> frozenset[str] | None:
    """The categories of other members' flags the institution may see; None means all of them.

    Raises ``NotReciprocal`` when it has contributed nothing for ``MATCH_RECIPROCITY_DAYS``.
    """
    with connection.cursor() as cursor:
        cursor.execute(_CONTRIBUTED, _since(institution, now))
        return _visible(frozenset(category for (category,) in cursor.fetchall()))


def _visible(contributed: frozenset[str]) -> frozenset[str] | None:
    if not contributed:
        raise NotReciprocal()
    if not settings.MATCH_OWN_CATEGORIES_ONLY:
        return None
    return contributed | PROTECTIVE_CATEGORIES


def _since(institution: Institution, now: datetime) -> list[Any]:
    since = now - timedelta(days=settings.MATCH_RECIPROCITY_DAYS)
    return [institution.pk, connection.ops.adapt_datetimefield_value(since)]


# The SQL of every query request is built once rather than by the ORM each time: building a
# queryset's SQL costs more than running it.
# The institution's contribution stamps within the window: parameters _since(...).
_CONTRIBUTED_SINCE = (
    f" FROM {ContributedCategory._meta.db_table} WHERE institution_id = %s AND last_contributed_at >= %s"
)
_CONTRIBUTED = "SELECT category" + _CONTRIBUTED_SINCE


_COUNTED_ROW = "counted"


@lru_cache(maxsize=256)
def _lookup_sql(tokens: int, counted: bool) -> str:
    """The shared flags on ``tokens`` platform tokens and, in the same round trip, the categories the
    caller has contributed lately (rows with no token and no status) and, if ``counted``, the query's
    subjects counted against its windows unless the caller is not reciprocal (rows with no token,
    the status ``counted``, the total in the institution's column and the window in the category's).
    Parameters: the institution and the start of the reciprocity window, ``Charge.params()`` if
    counted, the tokens, then SHARED_STATUSES."""
    places = ", ".join(["%s"] * tokens)
    statuses = ", ".join(["%s"] * len(SHARED_STATUSES))
    counting = f", {quotas.counted(requires='EXISTS (SELECT FROM contributed)')}" if counted else ""
    sql = (
        f"WITH contributed AS (SELECT category {_CONTRIBUTED_SINCE}){counting}"  # noqa: S608
        " SELECT token, institution_id, category, event_date, disputed, status"
        f" FROM {Flag._meta.db_table} WHERE token IN ({places}) AND status IN ({statuses})"
        " UNION ALL SELECT NULL, NULL, category, NULL, NULL, NULL FROM contributed"
    )
    if counted:
        sql += f" UNION ALL SELECT NULL, subjects, period, NULL, NULL, '{_COUNTED_ROW}' FROM counted"  # noqa: S608
    return sql


@dataclass
class CategoryHits:
    institutions: set[int] = field(default_factory=set)
    flags: int = 0
    latest: date = date.min
    disputed: bool = False
    resolved: bool = False

    def add(self, institution_id: int, event_date: date, disputed: bool, status: str) -> None:
        self.institutions.add(institution_id)
        self.flags += 1
        self.latest = max(self.latest, event_date)
        self.disputed = self.disputed or disputed
        self.resolved = self.resolved or status == FlagStatus.RESOLVED


@dataclass
class Found:
    """What is known about one platform token: other members' flags and the caller's own, by category."""

    others: dict[str, CategoryHits] = field(default_factory=dict)
    own: dict[str, CategoryHits] = field(default_factory=dict)


def find(
    institution: Institution, tokens: Iterable[bytes], now: datetime, charge: quotas.Charge | None = None
) -> tuple[dict[bytes, Found], frozenset[str] | None, dict[str, int] | None]:
    """Every shared flag on ``tokens``, grouped by token and category, with what the caller may not see
    left out; what it may see (``visible_categories``), learnt in the same round trip; and, on
    PostgreSQL, the windows' totals once ``charge`` is counted, in that round trip too (else None)."""
    tokens = list(set(tokens))
    if not tokens:
        return {}, visible_categories(institution, now), None
    # SQLite has no INSERT inside WITH: there, the caller counts in statements of their own.
    counting = charge.params() if charge is not None and connection.vendor == "postgresql" else []
    counted = bool(counting)
    with connection.cursor() as cursor:
        params = [*_since(institution, now), *counting, *tokens, *SHARED_STATUSES]
        cursor.execute(_lookup_sql(len(tokens), counted), params)
        rows = cursor.fetchall()
    contributed = frozenset(category for token, _, category, _, _, status in rows if token is None and status is None)
    visible = _visible(contributed)
    totals = (
        {period: int(total) for token, total, period, _, _, status in rows if status == _COUNTED_ROW}
        if counted
        else None
    )
    found: dict[bytes, Found] = {}
    for token, institution_id, category, event_date, disputed, status in rows:
        if token is None:
            continue
        token = bytes(token)
        if not isinstance(event_date, date):  # SQLite gives a date as text, and a boolean as 0 or 1
            event_date, disputed = date.fromisoformat(event_date), bool(disputed)
        if institution_id == institution.pk:
            groups = found.setdefault(token, Found()).own
        elif visible is None or category in visible:
            groups = found.setdefault(token, Found()).others
        else:
            continue
        groups.setdefault(category, CategoryHits()).add(institution_id, event_date, disputed, status)
    return found, visible, totals


def answer(correlation_id: str, found: Found | None) -> dict[str, Any]:
    """One subject's answer: its correlation id, never its token, and counts, never contributors."""
    others = found.others if found else {}
    own = found.own if found else {}
    return {
        "correlation_id": correlation_id,
        "hit": bool(others),
        "categories": [
            {
                "category": category,
                "institutions": len(hits.institutions),
                "latest_event_month": hits.latest.strftime("%Y-%m"),
                "disputed": hits.disputed,
                "resolved": hits.resolved,
            }
            for category, hits in sorted(others.items())
        ],
        "own": [
            {
                "category": category,
                "flags": hits.flags,
                "latest_event_month": hits.latest.strftime("%Y-%m"),
                "disputed": hits.disputed,
                "resolved": hits.resolved,
            }
            for category, hits in sorted(own.items())
        ],
    }


def query(
    institution: Institution, subjects: Sequence[tuple[str, bytes]], now: datetime, charge: quotas.Charge
) -> tuple[list[dict[str, Any]], int]:
    """Answers for (correlation id, platform token) pairs, in their order, and how many are hits.

    The subjects are counted against the institution's quota and rate (``charge``), in the lookup's
    own statement where the database allows; over a limit, it raises and the request rolls back.
    """
    found, _, totals = find(institution, (token for _, token in subjects), now, charge)
    charge.judge(totals if totals is not None else charge.add())
    answers = [answer(correlation_id, found.get(token)) for correlation_id, token in subjects]
    return answers, sum(1 for item in answers if item["hit"])
