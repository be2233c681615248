"""GET /api/v1/uploads/{id}/summary of a file of loans: the loans it wrote, by product type, open and closed."""

import pytest

from accounts.choices import Scope
from sharing import tasks
from sharing.loans import services
from sharing.models import Upload
from tests.factories import flag_item
from tests.sharing.flags.test_uploads import csv_bytes as flag_csv
from tests.sharing.flags.test_uploads import upload_file
from tests.sharing.loans.items import loan_item
from tests.sharing.loans.test_loan_uploads import URL, csv_bytes, run, send

pytestmark = pytest.mark.django_db

NO_FLAGS = {"total": 0, "by_category": {}, "by_status": {}, "cells": []}
NO_LOANS = {"total": 0, "open": 0, "closed": 0, "by_product": {}}
ROWS = [
    loan_item("LN-1"),  # line 2: superseded by line 6
    loan_item("LN-2", person=1, product="instalment", closed_on="2026-06-30"),  # line 3
    loan_item("LN-3", person=2, amount_band="huge"),  # line 4: refused
    loan_item("LN-4", person=3, product="instalment"),  # line 5
    loan_item("LN-1", closed_on="2026-05-31"),  # line 6
    loan_item("LN-5", person=4),  # line 7
]


@pytest.fixture
def contributor(cast, client_for):
    return client_for(cast.alpha["contributor"])


def summary(client, upload):
    answer = client.get(f"{URL}/{upload.pk}/summary")
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_counts_the_loans_a_file_wrote_by_product_open_and_closed(cast, contributor):
    upload = run(send(contributor, csv_bytes(ROWS)))

    body = summary(contributor, upload)

    assert body["upload"]["id"] == upload.pk
    assert body["upload"]["kind"] == "loans"
    assert (upload.created_count, upload.superseded_count, upload.rejected_count) == (4, 1, 1)
    assert body["report_lines_by_code"] == {"superseded": 1, "unknown_amount_band": 1}
    assert body["loans"] == {
        "total": 4,
        "open": 2,
        "closed": 2,
        "by_product": {"cash_loan": {"open": 1, "closed": 1}, "instalment": {"open": 1, "closed": 1}},
    }
    assert body["flags"] == NO_FLAGS
    # The same loans as the list of loans filtered by the upload.
    listed = contributor.get("/api/v1/loans", {"upload": upload.pk}).json()["results"]
    assert len(listed) == body["loans"]["total"]


def test_a_loan_rewritten_later_counts_with_its_latest_write(cast, contributor):
    upload = run(send(contributor, csv_bytes(ROWS)))
    services.contribute(cast.alpha.institution, [loan_item("LN-2", person=1, product="instalment")])  # reopened
    later = run(send(contributor, csv_bytes([loan_item("LN-4", person=3, product="credit_card")])))

    assert summary(contributor, upload)["loans"] == {
        "total": 2,
        "open": 1,
        "closed": 1,
        "by_product": {"cash_loan": {"open": 1, "closed": 1}},
    }
    assert summary(contributor, later)["loans"]["by_product"] == {"credit_card": {"open": 1, "closed": 0}}


def test_a_file_of_flags_keeps_its_flags_and_wrote_no_loans(cast, contributor):
    services.contribute(cast.alpha.institution, [loan_item("LN-1")])
    response = upload_file(contributor, flag_csv([flag_item("F-1"), flag_item("F-2", category="fraud_confirmed")]))
    upload_id = response.json()["id"]
    tasks.process_upload(upload_id)

    body = summary(contributor, Upload.objects.get(pk=upload_id))

    assert body["flags"]["total"] == 2
    assert body["flags"]["by_category"] == {"fraud_confirmed": 1, "overdue_90": 1}
    assert body["loans"] == NO_LOANS


def test_a_file_of_loans_refused_whole_counts_nothing(contributor, settings):
    settings.UPLOAD_MAX_ROWS = 1
    upload = run(send(contributor, csv_bytes(ROWS)))

    body = summary(contributor, upload)

    assert body["upload"]["status"] == "failed"
    assert (body["loans"], body["flags"], body["report_lines_by_code"]) == (NO_LOANS, NO_FLAGS, {})


def test_a_key_with_only_the_loans_scope_reads_the_summary(cast, contributor, key_client):
    upload = run(send(contributor, csv_bytes(ROWS)))
    client, _key = key_client(cast.alpha.institution, scopes=[Scope.LOANS_WRITE])

    assert client.get(f"{URL}/{upload.pk}/summary").json()["loans"]["total"] == 4


def test_another_institutions_summary_of_loans_answers_404(cast, client_for, contributor):
    upload = run(send(contributor, csv_bytes(ROWS)))

    assert client_for(cast.beta["auditor"]).get(f"{URL}/{upload.pk}/summary").status_code == 404
    assert client_for(cast.alpha["auditor"]).get(f"{URL}/{upload.pk}/summary").status_code == 200


def test_the_summary_counts_in_a_fixed_number_of_queries(cast, contributor, django_assert_max_num_queries):
    small = run(send(contributor, csv_bytes(ROWS[:2])))
    large = run(send(contributor, csv_bytes([loan_item(f"LN-{n}", person=n % 5) for n in range(10, 60)])))

    with django_assert_max_num_queries(20) as few:
        summary(contributor, small)
    with django_assert_max_num_queries(len(few.captured_queries)):
        summary(contributor, large)
