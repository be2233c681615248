"""The demo consortium's loans, reported through the platform's own code (``sharing.loans.services``).

``sharing.management.history`` makes them (``History.loans``); ``write`` reports them as each member
would have, a batch a month, and dates them back to the month they were reported in. Only time is
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
    """Report the loans a month's batch at a time, in the order they were reported; (member, when, how many)
    of each batch, for the audit events the requests would have left."""
    months: dict[tuple[date, int], list[Lending]] = defaultdict(list)
    for lending in loans:
        months[lending.reported_on.replace(day=1), lending.member].append(lending)
    batches: list[tuple[int, datetime, int]] = []
    last: dict[int, datetime] = {}
    for (_month, member), monthly in sorted(months.items()):
        day = max(lending.reported_on for lending in monthly)
        when = min(_at(day, 16 * 60 + 11 * member), now - timedelta(minutes=1))
        institution = members[member]
        items = [lending.item for lending in monthly]
        for start in range(0, len(items), BATCH):
            services.contribute(institution, items[start : start + BATCH])
        references = [item["reference"] for item in items]
        Loan.objects.filter(institution=institution, reference__in=references).update(created_at=when, updated_at=when)
        batches.append((member, when, len(items)))
        last[member] = when
    for member, when in last.items():
        ContributedLoans.objects.filter(institution=members[member]).update(last_contributed_at=when)
    return batches


def _at(day: date, minutes: int) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone()) + timedelta(minutes=minutes)
