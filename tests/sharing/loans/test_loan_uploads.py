"""POST /api/v1/uploads with kind=loans, and the job that stores a file's loans: counts, report, tokens."""

import csv
import io
import json
import threading
import time
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone

from accounts.choices import AuditAction, Scope
from accounts.models import AuditEvent
from sharing import tasks
from sharing.flags import reading as files
from sharing.flags import uploads
from sharing.keys.tokens import peppers, platform_token
from sharing.loans import services, storing
from sharing.loans.uploads import LOAN_FILE, LOANS
from sharing.models import ContributedLoans, Loan, LoanToken, Upload
from tests.factories import PEOPLE, member_token_of
from tests.sharing.loans.items import loan_item, mobile_token

pytestmark = pytest.mark.django_db

URL = "/api/v1/uploads"
COLUMNS = [
    "reference",
    "id_type",
    "token",
    "id_type_2",
    "token_2",
    "product",
    "opened_on",
    "closed_on",
    "amount_band",
    "consent_reference",
]


def csv_bytes(rows, columns=COLUMNS):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(column) is None else str(row[column]) for column in columns])
    return text.getvalue().encode()


@pytest.fixture
def contributor(cast, client_for):
    return client_for(cast.alpha["contributor"])


def send(client, content, name="loans.csv", kind="loans", **extra):
    return client.post(URL, {"file": SimpleUploadedFile(name, content), "kind": kind}, format="multipart", **extra)


def run(response):
    assert response.status_code == 202, response.json()
    tasks.process_upload(response.json()["id"])  # as the worker runs it: the contribution picked by the kind
    return Upload.objects.get(pk=response.json()["id"])


def report(client, upload):
    response = client.get(f"{URL}/{upload.pk}/errors")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))[1:]


def tokens_of(institution, reference):
    loan = Loan.objects.get(institution=institution, reference=reference)
    return [(t.id_type, bytes(t.token)) for t in LoanToken.objects.filter(loan=loan).order_by("id")]


MIXED = [
    loan_item("LN-1"),  # line 2: stored, then superseded by line 8
    loan_item("LN-2", id_type_2="mobile", token_2=mobile_token()),  # line 3: two identifiers
    loan_item("LN-3", amount_band="huge"),  # line 4: unknown band
    loan_item("LN-4", opened_on="2026-05-01", closed_on="2026-04-01"),  # line 5: closed before it opened
    loan_item("LN-5", consent_reference=" "),  # line 6: no consent
    loan_item("LN-6", id_type_2="cnid", token_2=member_token_of(PEOPLE[1])),  # line 7: two of one type
    loan_item("LN-1", closed_on="2026-06-30"),  # line 8: wins over line 2
    loan_item("LN-7", person=2, product="instalment"),  # line 9
]


@pytest.mark.parametrize("chunk_rows", [3, 50])
def test_a_file_of_loans_with_good_and_bad_rows_gives_exact_counts_and_report(cast, contributor, settings, chunk_rows):
    settings.UPLOAD_CHUNK_ROWS = chunk_rows

    upload = run(send(contributor, csv_bytes(MIXED)))

    assert (upload.kind, upload.status) == ("loans", "succeeded")
    assert (upload.rows_total, upload.rows_done) == (8, 8)
    assert (upload.created_count, upload.updated_count, upload.superseded_count, upload.rejected_count) == (3, 0, 1, 4)
    assert [line[:3] for line in report(contributor, upload)] == [
        ["2", "reference", "superseded"],
        ["4", "amount_band", "unknown_amount_band"],
        ["5", "closed_on", "closed_before_opened"],
        ["6", "consent_reference", "required"],
        ["7", "id_type_2", "duplicate_id_type"],
    ]
    alpha = cast.alpha.institution
    assert sorted(Loan.objects.values_list("reference", "closed_on")) == [
        ("LN-1", date(2026, 6, 30)),
        ("LN-2", None),
        ("LN-7", None),
    ]
    assert Loan.objects.get(reference="LN-1").source_row == 8
    assert Loan.objects.get(reference="LN-1").source_upload_id == upload.pk
    assert tokens_of(alpha, "LN-2") == [
        ("cnid", platform_token(member_token_of(PEOPLE[0]), peppers())),
        ("mobile", platform_token(mobile_token(), peppers())),
    ]
    assert LoanToken.objects.count() == 4
    assert ContributedLoans.objects.filter(institution=alpha).exists()
    assert not upload.file  # the file, which holds member tokens, is gone


def test_a_single_identifier_file_needs_no_numbered_columns(cast, contributor):
    columns = ["reference", "id_type", "token", "product", "opened_on", "amount_band", "consent_reference"]

    upload = run(send(contributor, csv_bytes([loan_item("LN-1")], columns)))

    assert (upload.created_count, upload.rejected_count) == (1, 0)
    assert [id_type for id_type, _ in tokens_of(cast.alpha.institution, "LN-1")] == ["cnid"]


def test_json_lines_take_either_form_of_identifiers(cast, contributor):
    listed = loan_item("LN-2", id_type=None, token=None)
    listed["identifiers"] = [{"id_type": "mobile", "token": mobile_token()}, {"id_type": "cnid", "token": "ab" * 32}]
    content = "\n".join(json.dumps(item) for item in (loan_item("LN-1"), listed, {"reference": "LN-3"})).encode()

    upload = run(send(contributor, content, name="loans.jsonl"))

    assert (upload.created_count, upload.rejected_count) == (2, 1)
    assert [id_type for id_type, _ in tokens_of(cast.alpha.institution, "LN-2")] == ["mobile", "cnid"]
    assert {line[1] for line in report(contributor, upload) if line[0] == "3"} == {
        "id_type",
        "token",
        "product",
        "opened_on",
        "amount_band",
        "consent_reference",
    }


def test_uploading_again_updates_closes_and_replaces_the_identifiers(cast, contributor):
    run(send(contributor, csv_bytes([loan_item("LN-1", id_type_2="mobile", token_2=mobile_token())])))
    first = Loan.objects.get()

    upload = run(send(contributor, csv_bytes([loan_item("LN-1", person=3, closed_on="2026-07-01")])))

    assert (upload.created_count, upload.updated_count) == (0, 1)
    loan = Loan.objects.get()
    assert (loan.pk, str(loan.closed_on), str(loan.expires_on)) == (first.pk, "2026-07-01", "2031-07-01")
    assert tokens_of(cast.alpha.institution, "LN-1") == [
        ("cnid", platform_token(member_token_of(PEOPLE[3]), peppers()))
    ]


def test_a_token_shared_with_another_of_the_members_loans_is_a_warning_not_a_refusal(cast, client_for, contributor):
    # Beta's loan on the same mobile with another resident ID is another member's: it never shows through.
    beta_item = loan_item("B-1", person=4, id_type_2="mobile", token_2=mobile_token())
    client_for(cast.beta["contributor"]).post("/api/v1/loans", {"loans": [beta_item]})
    contributor.post("/api/v1/loans", {"loans": [loan_item("LN-1", id_type_2="mobile", token_2=mobile_token())]})
    rows = [
        loan_item("LN-2", person=1, id_type_2="mobile", token_2=mobile_token()),  # line 2: same phone, other person
        loan_item("LN-3"),  # line 3: LN-1's borrower again, by one identifier of LN-1's
        loan_item("LN-4", person=2),  # line 4: nobody else
    ]

    upload = run(send(contributor, csv_bytes(rows)))

    assert (upload.created_count, upload.rejected_count) == (3, 0)
    assert [line[:3] for line in report(contributor, upload)] == [["2", "identifiers", "shared_token"]]
    assert Loan.objects.filter(institution=cast.alpha.institution).count() == 4


def test_a_file_without_the_consent_column_is_refused_before_it_is_stored(contributor):
    columns = [column for column in COLUMNS if column != "consent_reference"]

    response = send(contributor, csv_bytes([loan_item("LN-1")], columns))

    assert response.status_code == 400
    assert {(error["field"], error["code"]) for error in response.json()["errors"]} == {
        ("columns.consent_reference", "missing_column")
    }
    assert not Upload.objects.exists()


def test_a_file_of_loans_is_not_a_file_of_flags(contributor):
    response = send(contributor, csv_bytes([loan_item("LN-1")]), kind="flags")

    assert response.status_code == 400
    assert "columns.product" in {error["field"] for error in response.json()["errors"]}


def test_a_key_with_only_the_loans_scope_sends_and_follows_a_file_of_loans(cast, key_client):
    client, key = key_client(cast.alpha.institution, scopes=[Scope.LOANS_WRITE])

    upload = run(send(client, csv_bytes([loan_item("LN-1")])))

    assert client.get(f"{URL}/{upload.pk}").json()["created_count"] == 1
    assert client.get(f"{URL}/{upload.pk}/errors").status_code == 200
    flags = b"reference,id_type,token,category,event_date\r\nF-1,cnid," + b"ab" * 32 + b",default,2026-01-01\r\n"
    assert send(client, flags, name="flags.csv", kind="flags").status_code == 403
    event = AuditEvent.objects.get(action=AuditAction.UPLOAD_CREATE)
    assert (event.actor_key_id, event.target_id) == (key.pk, str(upload.pk))


def test_a_key_with_only_the_flags_scope_sends_no_file_of_loans(cast, key_client):
    client, _key = key_client(cast.alpha.institution, scopes=[Scope.FLAGS_WRITE])

    response = send(client, csv_bytes([loan_item("LN-1")]))

    assert response.status_code == 403
    assert response.json()["code"] == "missing_scope"
    assert not Upload.objects.exists()


def test_another_member_does_not_see_the_upload_of_loans(cast, client_for, contributor):
    upload = run(send(contributor, csv_bytes([loan_item("LN-1")])))
    beta = client_for(cast.beta["contributor"])

    assert beta.get(f"{URL}/{upload.pk}").status_code == 404
    assert beta.get(f"{URL}/{upload.pk}/errors").status_code == 404


def test_resuming_from_a_checkpoint_stores_the_rest_exactly_once(cast, contributor, settings):
    """A worker died after its first chunk committed: the next one carries on from the checkpoint."""
    settings.UPLOAD_CHUNK_ROWS = 2
    rows = [loan_item(f"LN-{n}", person=n % 5) for n in range(1, 6)] + [loan_item("LN-1", closed_on="2026-07-01")]
    response = send(contributor, csv_bytes(rows))
    upload = uploads.claim(response.json()["id"])
    assert upload is not None
    with upload.file.storage.open(upload.file.name or "", "rb") as handle:
        raw = handle.file
        assert raw is not None
        source = files.records(raw, "csv", LOAN_FILE)
        first_chunk = next(uploads.prepared(source, LOANS.rows(upload), 2))
        source.close()
    uploads._commit_chunk(upload, first_chunk, LOANS)
    Upload.objects.filter(pk=upload.pk).update(status="running", rows_total=6)

    tasks.process_upload(upload.pk)

    upload.refresh_from_db()
    assert (upload.status, upload.rows_done, upload.attempts) == ("succeeded", 6, 2)
    assert (upload.created_count, upload.updated_count, upload.superseded_count) == (5, 0, 1)
    assert Loan.objects.count() == 5
    assert LoanToken.objects.count() == 5
    assert report(contributor, upload)[0][:3] == ["2", "reference", "superseded"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-based path is PostgreSQL's")
def test_the_set_based_and_portable_paths_store_the_same(cast):
    """The same chunks, stored once by COPY and merge and once through the ORM, by two members."""
    checker = services.checker()
    first = [loan_item(f"LN-{n}", person=n % 5, id_type_2="mobile", token_2=mobile_token()) for n in range(6)]
    second = [
        loan_item("LN-0", closed_on="2026-08-01"),
        loan_item("LN-1", person=3, product="other"),
        loan_item("LN-9", person=4, amount_band="gte_1m"),
    ]
    results = {}
    for institution, store in (
        (cast.alpha.institution, storing.copy_and_merge),
        (cast.beta.institution, lambda i, s, u, now: storing.upsert_orm(i, s, u, now)),
    ):
        upload = Upload.objects.create(institution=institution, kind="loans", file_name="l.csv", size_bytes=1)
        stored = []
        for chunk in (first, second):
            checked = [checker.check(item) for item in chunk]
            staged = [
                storing.stage(loan, line) for line, loan in enumerate(checked, start=2) if not isinstance(loan, list)
            ]
            assert len(staged) == len(chunk)
            result = store(institution, staged, upload, timezone.now())
            stored.append((result.created, result.updated, sorted(result.superseded)))
        loans = Loan.objects.filter(institution=institution).order_by("reference")
        fields = ("reference", "product", "opened_on", "closed_on", "amount_band", "expires_on", "source_row")
        results[institution.pk] = (
            stored,
            list(loans.values_list(*fields)),
            [tokens_of(institution, loan.reference) for loan in loans],
        )

    assert results[cast.alpha.institution.pk] == results[cast.beta.institution.pk]
    assert results[cast.alpha.institution.pk][0] == [(6, 0, []), (1, 0, [(2, 2), (3, 3)])]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's row locks make the second writer wait")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["batch", "file"])
def test_two_writers_of_one_new_reference_leave_the_later_ones_identifiers(cast, path):
    """The first writer has stored a loan new to both and not yet committed; the second waits for it, then
    updates the loan and replaces its tokens, instead of failing on the first one's tokens."""
    institution = cast.alpha.institution
    first_stored, second_started = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def store(item: dict[str, object], hold: bool) -> None:
        try:
            with transaction.atomic():
                if path == "batch":
                    services.contribute(institution, [item])
                else:
                    upload = Upload.objects.create(
                        institution=institution, kind="loans", file_name="l.csv", size_bytes=1
                    )
                    loan = services.checker().check(item)
                    assert not isinstance(loan, list)
                    storing.copy_and_merge(institution, [storing.stage(loan, 2)], upload, timezone.now())
                if hold:
                    first_stored.set()
                    second_started.wait(10)
                    time.sleep(0.5)  # the second writer is waiting on this one's row by now
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    first = threading.Thread(target=store, args=(loan_item("LN-1", id_type_2="mobile", token_2=mobile_token()), True))
    first.start()
    first_stored.wait(10)
    second = threading.Thread(target=store, args=(loan_item("LN-1", person=3), False))
    second.start()
    second_started.set()
    first.join(30)
    second.join(30)

    assert failures == []
    assert tokens_of(institution, "LN-1") == [("cnid", platform_token(member_token_of(PEOPLE[3]), peppers()))]
