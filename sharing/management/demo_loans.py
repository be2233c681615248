"""The demo consortium's loans, reported through the platform's own code (``sharing.loans.services``).

``sharing.management.history`` makes them (``History.loans``); ``write`` reports them and dates each
back to the month its member reported it in, with an audit event per member and month. Only time is
made up, as for the flags: the loans are checked, keyed and stored as a request stores them, and
each member's loan contributions are stamped at its last batch.
"""

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from accounts.models import Institution
from sharing.loans import services
from sharing.management.history import Lending
from sharing.models import ContributedLoans, Loan

BATCH = 1_000  # the most a request carries


def write(loans: list[Lending], members: list[Institution], now: datetime) -> list[tuple[int, datetime, int]]:
    """Report the loans and date each back to the month it was reported in; (member, when, how many) of
    each month's batch, for the audit events the requests would have left.

    Each member's loans are sent in batches of ``BATCH``, then dated month by month: the same rows as a
    batch a month would leave, in a few batches instead of hundreds.
    """
    months: dict[tuple[date, int], list[Lending]] = defaultdict(list)
    for lending in loans:
        months[lending.reported_on.replace(day=1), lending.member].append(lending)
    batches: list[tuple[int, datetime, int]] = []
    dated: dict[str, datetime] = {}
    for (_month, member), monthly in sorted(months.items()):
        day = max(lending.reported_on for lending in monthly)
        when = min(_at(day, 16 * 60 + 11 * member), now - timedelta(minutes=1))
        batches.append((member, when, len(monthly)))
        dated.update((lending.item["reference"], when) for lending in monthly)
    for member, institution in enumerate(members):
        items = [lending.item for lending in loans if lending.member == member]
        for start in range(0, len(items), BATCH):
            services.contribute(institution, items[start : start + BATCH])
    for (_month, member), monthly in months.items():
        references = [lending.item["reference"] for lending in monthly]
        when = dated[references[0]]
        Loan.objects.filter(institution=members[member], reference__in=references).update(
            created_at=when, updated_at=when
        )
    for member, institution in enumerate(members):
        last = max((when for who, when, _count in batches if who == member), default=None)
        if last is not None:
            ContributedLoans.objects.filter(institution=institution).update(last_contributed_at=last)
    return batches


def _at(day: date, minutes: int) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone()) + timedelta(minutes=minutes)
