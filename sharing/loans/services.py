"""Reporting loans and erasing them past retention: every write to loans goes through here or a file upload."""

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from accounts.audit import record
from accounts.choices import AuditAction
from accounts.models import Institution
from sharing.flags.services import checked_batch
from sharing.flags.storing import Stored
from sharing.keys.tokens import peppers
from sharing.loans.checking import CheckedLoan, Checker
from sharing.loans.storing import store_loans
from sharing.models import Loan, LoanToken

ERASE_BATCH = 10_000


def checker() -> Checker:
    return Checker(peppers(), timezone.localdate())


def contribute(institution: Institution, items: Sequence[Mapping[str, Any]]) -> tuple[list[CheckedLoan], Stored]:
    """Check and upsert a batch of loans, all or nothing; ``BatchInvalid`` says what is wrong with which item."""
    loans = checked_batch(checker().check, items, "loan")
    return loans, store_loans(institution, loans)


def apply_retention(today: date | None = None) -> int:
    """Retention: a loan is kept while open and for five years after it closed, then erased like a flag.

    A loan whose ``expires_on`` has come loses its tokens, the member's reference and consent
    reference, and the upload row it came from; what remains (institution, product, dates, band)
    is only counted and can no longer be tied to a borrower. Done in batches of ``ERASE_BATCH``
    loans in the order of their ids (a loan its member is rewriting at that moment is skipped, and
    erased by the next run), each in its own transaction with one audit event (``loan.erase``) per institution
    giving the number erased. Returns how many loans were erased.
    """
    today = today or timezone.localdate()
    erased = 0
    due = Loan.objects.filter(expires_on__lte=today, reference__isnull=False)
    after = 0  # each batch reads on from the last one's end, so the run reads the loans once
    while True:
        with transaction.atomic():
            locked = due.filter(pk__gt=after).order_by("pk").select_for_update(skip_locked=True)
            batch = list(locked.values_list("pk", flat=True)[:ERASE_BATCH])
            if not batch:
                return erased
            after = batch[-1]
            loans = Loan.objects.filter(pk__in=batch)
            per_institution = list(loans.values("institution").annotate(n=Count("id")).order_by("institution"))
            LoanToken.objects.filter(loan_id__in=batch).delete()
            erased += loans.update(
                reference=None,
                consent_reference="",
                source_upload=None,
                source_row=None,
                updated_at=timezone.now(),
            )
            institutions = Institution.objects.in_bulk([row["institution"] for row in per_institution])
            for row in per_institution:
                record(AuditAction.LOAN_ERASE, institution=institutions[row["institution"]], subjects=row["n"])
