"""Retention: a loan is kept while open and for five years after it closed, then erased like a flag."""

from datetime import date

import pytest

from accounts.choices import AuditAction
from accounts.models import AuditEvent
from sharing.keys.tokens import peppers
from sharing.loans import services
from sharing.loans.checking import Checker
from sharing.loans.storing import store_loans
from sharing.models import Loan, LoanToken
from sharing.tasks import apply_retention
from tests.sharing.loans.items import loan_item, mobile_token

pytestmark = pytest.mark.django_db

# What each loan was when it was reported, on 2022-02-01: (opened on, closed on).
HISTORY = {
    "CLOSED-2021": ("2020-01-01", "2021-06-30"),  # kept until 2026-06-30
    "CLOSED-2022": ("2020-01-01", "2022-01-10"),  # kept until 2027-01-10
    "OPEN": ("2019-05-01", None),  # kept while open
}


def report_on(day: date, institution, items) -> None:
    """Loans reported on ``day``, through the one check and the one store: the clock moved back."""
    checker = Checker(peppers(), day)
    checked = [checker.check(item) for item in items]
    assert not any(isinstance(result, list) for result in checked), checked
    store_loans(institution, checked)  # type: ignore[arg-type]


@pytest.fixture
def loans(cast):
    items = [
        loan_item(reference, opened_on=opened, closed_on=closed, id_type_2="mobile", token_2=mobile_token())
        for reference, (opened, closed) in HISTORY.items()
    ]
    report_on(date(2022, 2, 1), cast.alpha.institution, items)
    report_on(date(2022, 2, 1), cast.beta.institution, items[:1])
    return {loan.reference: loan for loan in Loan.objects.filter(institution=cast.alpha.institution)}


def test_a_loan_closed_five_years_ago_is_erased_and_an_open_one_kept(cast, loans):
    assert str(loans["CLOSED-2021"].expires_on) == "2026-06-30"

    erased = services.apply_retention(today=date(2026, 6, 30))

    assert erased == 2  # alpha's and beta's CLOSED-2021
    gone = Loan.objects.get(pk=loans["CLOSED-2021"].pk)
    assert (gone.reference, gone.consent_reference, gone.source_upload_id, gone.source_row) == (None, "", None, None)
    assert (gone.product, str(gone.opened_on), str(gone.closed_on)) == ("cash_loan", "2020-01-01", "2021-06-30")
    assert not LoanToken.objects.filter(loan=gone).exists()
    for kept in ("CLOSED-2022", "OPEN"):
        loan = Loan.objects.get(pk=loans[kept].pk)
        assert loan.reference == kept
        assert loan.consent_reference == "AUTH-2026-0001"
        assert LoanToken.objects.filter(loan=loan).count() == 2


def test_each_institution_gets_one_event_with_its_count(cast, loans):
    services.apply_retention(today=date(2027, 1, 10))

    events = AuditEvent.objects.filter(action=AuditAction.LOAN_ERASE).order_by("institution_id")
    assert [(event.institution_id, event.subjects_count) for event in events] == [
        (cast.alpha.institution.pk, 2),
        (cast.beta.institution.pk, 1),
    ]
    assert set(Loan.objects.filter(reference__isnull=False).values_list("reference", flat=True)) == {"OPEN"}


def test_a_day_before_its_end_a_closed_loan_is_kept(loans):
    assert services.apply_retention(today=date(2026, 6, 29)) == 0
    assert LoanToken.objects.count() == 8


def test_retention_run_twice_erases_nothing_more(loans):
    services.apply_retention(today=date(2026, 7, 1))

    assert services.apply_retention(today=date(2026, 7, 1)) == 0
    assert AuditEvent.objects.filter(action=AuditAction.LOAN_ERASE).count() == 2


def test_an_erased_loans_reference_may_be_used_again(cast, client_for, loans):
    services.apply_retention(today=date(2026, 7, 1))

    response = client_for(cast.alpha["contributor"]).post("/api/v1/loans", {"loans": [loan_item("CLOSED-2021")]})

    assert response.json()["created"] == 1
    assert Loan.objects.filter(institution=cast.alpha.institution).count() == 4


def test_the_daily_retention_task_erases_loans_beside_flags(cast, loans):
    """The scheduled task, today: a loan whose retention ended yesterday goes."""
    Loan.objects.filter(pk=loans["CLOSED-2022"].pk).update(closed_on=date(2021, 1, 1), expires_on=date(2026, 1, 1))

    apply_retention()

    assert set(Loan.objects.filter(reference__isnull=False).values_list("reference", flat=True)) == {"OPEN"}
    assert LoanToken.objects.count() == 2


def test_retention_ends_five_calendar_years_after_the_close():
    checker = Checker(peppers(), date(2026, 12, 3))

    leap = checker.check(loan_item(opened_on="2024-01-01", closed_on="2024-02-29"))
    past = checker.check(loan_item(opened_on="2021-01-01", closed_on="2021-12-03"))
    last = checker.check(loan_item(opened_on="2021-01-01", closed_on="2021-12-04"))

    assert not isinstance(leap, list)
    assert leap.expires_on == date(2029, 3, 1)
    assert isinstance(past, list)
    assert [(error.field, error.code) for error in past] == [("closed_on", "past_loan_retention")]
    assert not isinstance(last, list)
    assert last.expires_on == date(2026, 12, 4)


def test_a_run_erases_every_loan_due_whatever_the_batches(loans, monkeypatch):
    """Batches read on from the previous one's last id: three loans due, batches of one, all erased once."""
    monkeypatch.setattr(services, "ERASE_BATCH", 1)

    assert services.apply_retention(today=date(2027, 1, 10)) == 3
    assert set(Loan.objects.filter(reference__isnull=False).values_list("reference", flat=True)) == {"OPEN"}
    assert LoanToken.objects.count() == 2  # the open loan's two
    assert services.apply_retention(today=date(2027, 1, 10)) == 0
