"""The demo consortium's loans: made up the same way everywhere, and reported through the platform's own code."""

from collections import defaultdict
from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.choices import InstitutionKind
from sharing.keys.tokens import peppers
from sharing.loans.checking import Checker
from sharing.management import demo_loans, history
from sharing.models import ContributedLoans, Loan, LoanToken
from tests.factories import InstitutionFactory

TODAY = date(2026, 12, 3)
SIZE = 1_000  # flags in the history: the loans scale with it


@pytest.fixture(scope="module")
def past() -> history.History:
    return history.make(TODAY, SIZE)


def test_the_loans_are_the_same_everywhere_and_leave_the_flags_history_as_it_was(past):
    again = history.make(TODAY, SIZE)

    assert [lending.item for lending in again.loans] == [lending.item for lending in past.loans]
    assert len(past.loans) >= history.LOANS * SIZE // history.FLAGS
    without = history.History(past.today, past.borrowers, past.filings, past.queries, past.book, past.added)
    assert [filing.item for filing in without.filings] == [filing.item for filing in again.filings]


def test_every_loan_is_one_the_platform_accepts(past):
    check = Checker(peppers(), TODAY).check

    refused = [lending.item["reference"] for lending in past.loans if isinstance(check(lending.item), list)]

    assert refused == []


def test_some_borrowers_have_open_loans_at_three_or_more_members_and_some_loans_are_closed(past):
    lenders: dict[str, set[int]] = defaultdict(set)
    for lending in past.loans:
        if "closed_on" not in lending.item:
            lenders[lending.borrower.token].add(lending.member)

    assert sum(len(members) >= 3 for members in lenders.values()) >= 5
    assert sum("closed_on" in lending.item for lending in past.loans) > len(past.loans) // 5
    assert sum("id_type_2" in lending.item for lending in past.loans) > 0
    assert {lending.member for lending in past.loans} == set(range(history.MEMBERS))


@pytest.mark.django_db
def test_written_through_the_service_dated_back_and_stamped(past):
    members = [InstitutionFactory.create(kind=InstitutionKind.MEMBER) for _ in range(history.MEMBERS)]
    now = timezone.now()

    batches = demo_loans.write(past.loans, members, now)

    assert Loan.objects.count() == len(past.loans)
    assert sum(count for _member, _when, count in batches) == len(past.loans)
    assert LoanToken.objects.count() == sum(1 + ("id_type_2" in lending.item) for lending in past.loans)
    oldest = Loan.objects.order_by("created_at").first()
    assert oldest is not None
    assert now - oldest.created_at > timedelta(days=1_000)
    for member, institution in enumerate(members):
        stamped = ContributedLoans.objects.get(institution=institution).last_contributed_at
        assert stamped == max(when for who, when, _count in batches if who == member)
    lenders: dict[bytes, set[int]] = defaultdict(set)
    for token, lender in LoanToken.objects.filter(loan__closed_on__isnull=True).values_list(
        "token", "loan__institution_id"
    ):
        lenders[bytes(token)].add(lender)
    assert max(len(institutions) for institutions in lenders.values()) >= 3
