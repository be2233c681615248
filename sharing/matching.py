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
from typing import Any

from django.conf import settings

from accounts.models import Institution
from sharing.choices import PROTECTIVE_CATEGORIES, FlagStatus
from sharing.models import ContributedCategory, Flag

# Expired and withdrawn flags are no longer shared.
SHARED_STATUSES = (FlagStatus.ACTIVE, FlagStatus.RESOLVED)


class NotReciprocal(Exception):
    """The institution has contributed nothing within the reciprocity window."""


def visible_categories(institution: Institution, now: datetime) -> frozenset[str] | None:
    """The categories of other members' flags the institution may see; None means all of them.

    Raises ``NotReciprocal`` when it has contributed nothing for ``MATCH_RECIPROCITY_DAYS``.
    """
    since = now - timedelta(days=settings.MATCH_RECIPROCITY_DAYS)
    contributed = frozenset(
        ContributedCategory.objects.filter(institution=institution, last_contributed_at__gte=since).values_list(
            "category", flat=True
        )
    )
    if not contributed:
        raise NotReciprocal()
    if not settings.MATCH_OWN_CATEGORIES_ONLY:
        return None
    return contributed | PROTECTIVE_CATEGORIES


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


def find(institution: Institution, tokens: Iterable[bytes], visible: frozenset[str] | None) -> dict[bytes, Found]:
    """Every shared flag on ``tokens``, grouped by token and category, with what the caller may not see left out."""
    found: dict[bytes, Found] = {}
    rows = (
        Flag.objects.filter(token__in=set(tokens), status__in=SHARED_STATUSES)
        .values_list("token", "institution_id", "category", "event_date", "disputed", "status")
        .order_by()
    )
    for token, institution_id, category, event_date, disputed, status in rows:
        token = bytes(token)
        if institution_id == institution.pk:
            groups = found.setdefault(token, Found()).own
        elif visible is None or category in visible:
            groups = found.setdefault(token, Found()).others
        else:
            continue
        groups.setdefault(category, CategoryHits()).add(institution_id, event_date, disputed, status)
    return found


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
    institution: Institution, subjects: Sequence[tuple[str, bytes]], now: datetime
) -> tuple[list[dict[str, Any]], int]:
    """Answers for (correlation id, platform token) pairs, in their order, and how many are hits."""
    visible = visible_categories(institution, now)
    found = find(institution, (token for _, token in subjects), visible)
    answers = [answer(correlation_id, found.get(token)) for correlation_id, token in subjects]
    return answers, sum(1 for item in answers if item["hit"])
