"""Loans for the reports' tests, and the reports' multi-lending counts computed here, apart from the SQL."""

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from accounts.models import Institution
from sharing.models import Loan, LoanToken
from sharing.reports import gathering as reporting

PRECEDENCE = ("cnid", "passport", "uscc", "mobile")  # docs/reports.md, "Who is a borrower"
_references = itertools.count(1)


@dataclass(frozen=True)
class Given:
    """A loan as a test writes it: who lent, when, and the borrower's identifiers (type, platform token)."""

    institution: Institution
    opened_on: date
    closed_on: date | None
    tokens: tuple[tuple[str, bytes], ...]

    @property
    def borrower(self) -> tuple[str, bytes]:
        return min(self.tokens, key=lambda pair: PRECEDENCE.index(pair[0]))

    @property
    def sector(self) -> str:
        return self.institution.sector or reporting.UNSPECIFIED

    def open_at(self, day: date) -> bool:
        return self.opened_on <= day and (self.closed_on is None or self.closed_on > day)


def store(loans: list[Given]) -> None:
    """The loans and their tokens, as the loans' storing writes them (erased loans have no tokens)."""
    made = Loan.objects.bulk_create(
        Loan(
            institution=given.institution,
            reference=f"loan-{next(_references)}",
            product="cash_loan",
            opened_on=given.opened_on,
            closed_on=given.closed_on,
            amount_band="10k_50k",
            consent_reference="consent",
        )
        for given in loans
    )
    LoanToken.objects.bulk_create(
        LoanToken(loan=loan, id_type=id_type, token=token, pepper_version=1)
        for loan, given in zip(made, loans, strict=True)
        for id_type, token in given.tokens
    )


def expected_multi_lending(loans: list[Given], period: reporting.Period) -> dict[tuple[str, str], dict[str, int]]:
    """Borrowers by lenders at each month's end (3-4, 5-9, 10+), under each sector that lends to them and under all."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for month in period.months():
        lenders: dict[tuple[str, bytes], set[int]] = defaultdict(set)
        sectors: dict[tuple[str, bytes], set[str]] = defaultdict(set)
        for loan in loans:
            if loan.open_at(month.last):
                lenders[loan.borrower].add(loan.institution.pk)
                sectors[loan.borrower].add(loan.sector)
        for borrower, institutions in lenders.items():
            n = len(institutions)
            if n < 3:
                continue
            band = "10+" if n >= 10 else "5-9" if n >= 5 else "3-4"
            for sector in [*sectors[borrower], reporting.ALL]:
                counts[month.code, sector][band] += 1
    return {key: dict(value) for key, value in counts.items()}


def expected_loans_opened(loans: list[Given], period: reporting.Period) -> dict[tuple[str, str], dict[str, int]]:
    """Loans opened in each month, and their distinct borrowers, by sector (loans) and by sector and all (borrowers)."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    borrowers: dict[tuple[str, str], set[tuple[str, bytes]]] = defaultdict(set)
    for month in period.months():
        for loan in loans:
            if month.first <= loan.opened_on <= month.last:
                key = (month.code, loan.sector)
                counts.setdefault(key, {"loans": 0})["loans"] += 1
                borrowers[key].add(loan.borrower)
                borrowers[month.code, reporting.ALL].add(loan.borrower)
    for key, seen in borrowers.items():
        counts.setdefault(key, {})["borrowers"] = len(seen)
    return counts
