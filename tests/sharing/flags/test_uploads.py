"""POST /api/v1/uploads and the job that stores a file's flags: counts, the error report, refusals."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from accounts.choices import AuditAction, Scope
from accounts.models import AuditEvent
from sharing.flags import reading as files
from sharing.flags import storing, uploads
from sharing.models import Flag, FlagToken, Upload
from tests.factories import flag_item, member_token_of

pytestmark = pytest.mark.django_db

URL = "/api/v1/uploads"
COLUMNS = [
    "reference",
    "id_type",
    "token",
    "category",
    "event_date",
    "end_date",
    "notice_date",
    "notice_channel",
    "details",
]


def csv_bytes(rows, columns=COLUMNS):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return text.getvalue().encode()


def _cell(value):
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)


def row(reference, **fields):
    return flag_item(reference, **fields)


@pytest.fixture
def contributor(cast, client_for):
    return client_for(cast.alpha["contributor"])


def upload_file(client, content, name="flags.csv", **extra):
    return client.post(URL, {"file": SimpleUploadedFile(name, content)}, format="multipart", **extra)


def run(response):
    assert response.status_code == 202, response.json()
    uploads.process(response.json()["id"])
    return Upload.objects.get(pk=response.json()["id"])


def tokens_by_reference(institution):
    """{reference: {id_type: platform token}} of the institution's flags."""
    tokens = FlagToken.objects.filter(flag__institution=institution)
    found: dict[str | None, dict[str, bytes]] = {}
    for reference, id_type, token in tokens.values_list("flag__reference", "id_type", "token"):
        found.setdefault(reference, {})[id_type] = bytes(token)
    return found


def report(client, upload):
    response = client.get(f"{URL}/{upload.pk}/errors")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


MIXED = [
    row("A-1"),  # line 2: stored, then superseded by line 7
    row("A-2", token="ab" * 31),  # line 3: bad token
    row("A-3", category="late"),  # line 4: unknown category
    row("A-4", event_date="2999-01-01"),  # line 5: future
    row("A-5", notice_date=None, notice_channel=None),  # line 6: no notice
    row("A-1", category="default"),  # line 7: wins over line 2
    row("A-6", id_type="mobile", token=member_token_of("+8613800138000", "mobile")),  # line 8
]


@pytest.mark.parametrize("chunk_rows", [3, 50])
def test_a_file_with_good_and_bad_rows_gives_exact_counts_and_report(contributor, settings, chunk_rows):
    settings.UPLOAD_CHUNK_ROWS = chunk_rows

    upload = run(upload_file(contributor, csv_bytes(MIXED)))

    assert upload.status == "succeeded"
    assert (upload.rows_total, upload.rows_done) == (7, 7)
    assert (upload.created_count, upload.updated_count, upload.superseded_count, upload.rejected_count) == (2, 0, 1, 4)
    assert report(contributor, upload) == [
        ["row", "field", "code", "message"],
        ["2", "reference", "superseded", "Row 7 has the same reference; the later row was stored."],
        ["3", "token", "bad_token", "A member token is 64 lowercase hexadecimal characters."],
        ["4", "category", "unknown_category", "Use one of: " + ", ".join(_categories()) + "."],
        ["5", "event_date", "future_date", "The date is in the future."],
        ["6", "notice_date", "notice_required", "Negative information needs the date the borrower was told."],
        ["6", "notice_channel", "notice_required", "Negative information needs how the borrower was told."],
    ]
    assert sorted(Flag.objects.values_list("reference", "category")) == [("A-1", "default"), ("A-6", "overdue_90")]
    assert Flag.objects.get(reference="A-1").source_row == 7
    assert not upload.file  # the file, which holds member tokens, is gone


def _categories():
    from sharing.choices import Category

    return Category.values


def test_uploading_again_updates_instead_of_duplicating(contributor):
    run(upload_file(contributor, csv_bytes([row("A-1"), row("A-2")])))

    upload = run(upload_file(contributor, csv_bytes([row("A-1", category="default"), row("A-3")])))

    assert (upload.created_count, upload.updated_count) == (1, 1)
    assert Flag.objects.count() == 3


def test_jsonl_files_are_read_line_by_line(contributor):
    lines = [json.dumps(row("J-1")), "", "not json", json.dumps([1]), json.dumps(row("J-2", colour="red"))]

    upload = run(upload_file(contributor, "\n".join(lines).encode(), name="flags.jsonl"))

    assert (upload.rows_total, upload.created_count, upload.rejected_count) == (4, 1, 3)
    assert [line[:3] for line in report(contributor, upload)[1:]] == [
        ["3", "", "bad_json"],
        ["4", "", "bad_json"],
        ["5", "colour", "unknown_field"],
    ]


def test_a_row_spanning_lines_is_numbered_by_its_first_line(contributor):
    rows = [row("M-1", details='{\n"note": "a quoted field may hold a line break"}'), row("M-2", category="late")]

    upload = run(upload_file(contributor, csv_bytes(rows)))

    assert report(contributor, upload)[1][:3] == ["4", "category", "unknown_category"]


def test_a_file_that_is_not_utf8_is_refused_and_nothing_is_stored(contributor, settings):
    settings.UPLOAD_CHUNK_ROWS = 1
    content = csv_bytes([row("A-1"), row("A-2")]) + "A-3,cnid,".encode("gbk") + "逾期".encode("gbk") + b"\r\n"

    upload = run(upload_file(contributor, content))

    assert (upload.status, upload.error_code) == ("failed", "not_utf8")
    assert "Line 4" in upload.error
    assert not Flag.objects.exists()


def test_a_header_that_is_not_utf8_is_refused_at_once(contributor):
    response = upload_file(contributor, "参考号,id_type\r\n".encode("gbk"))

    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "field": "file",
        "code": "not_utf8",
        "message": "Line 1 is not UTF-8 text; save the file as UTF-8.",
    }
    assert not Upload.objects.exists()


def test_missing_and_unknown_columns_are_refused_before_anything_is_stored(contributor):
    content = csv_bytes([row("A-1")], columns=["reference", "id_type", "category", "event_date", "colour"])

    response = upload_file(contributor, content)

    assert response.status_code == 400
    assert {(error["field"], error["code"]) for error in response.json()["errors"]} == {
        ("columns.colour", "unknown_column"),
        ("columns.token", "missing_column"),
    }
    assert not Upload.objects.exists()


def test_a_file_over_the_size_limit_is_refused(contributor, settings):
    settings.UPLOAD_MAX_BYTES = 1024

    response = upload_file(contributor, csv_bytes([row(f"A-{n}") for n in range(20)]))

    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert not Upload.objects.exists()


def test_a_file_over_the_row_limit_fails_with_nothing_stored(contributor, settings):
    settings.UPLOAD_MAX_ROWS = 2

    upload = run(upload_file(contributor, csv_bytes([row("A-1"), row("A-2"), row("A-3")])))

    assert (upload.status, upload.error_code) == ("failed", "too_many_rows")
    assert not Flag.objects.exists()


def test_a_row_with_the_wrong_number_of_fields_is_rejected(contributor):
    content = csv_bytes([row("A-1")]) + b"A-2,cnid\r\n"

    upload = run(upload_file(contributor, content))

    assert (upload.created_count, upload.rejected_count) == (1, 1)
    assert report(contributor, upload)[1] == ["3", "", "bad_row", "The row has 2 fields; the header has 9."]


def test_the_format_comes_from_the_name_or_is_named(contributor):
    refused = upload_file(contributor, b"x", name="flags.txt")
    named = contributor.post(
        URL,
        {"file": SimpleUploadedFile("flags.txt", json.dumps(row("A-1")).encode()), "format": "jsonl"},
        format="multipart",
    )

    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "format"
    assert named.status_code == 202
    assert named.json()["file_format"] == "jsonl"


def test_the_job_resource_reports_progress_and_links(contributor):
    response = upload_file(contributor, csv_bytes([row("A-1")]))
    body = response.json()

    assert body["status"] == "queued"
    assert body["rows_done"] == 0
    assert response["Location"] == body["links"]["self"]
    assert body["links"]["self"].endswith(f"{URL}/{body['id']}")
    assert body["links"]["errors"].endswith(f"{URL}/{body['id']}/errors")
    uploads.process(body["id"])
    done = contributor.get(f"{URL}/{body['id']}").json()
    assert (done["status"], done["rows_total"], done["rows_done"], done["created_count"]) == ("succeeded", 1, 1, 1)


def test_an_idempotency_key_makes_a_retried_upload_one_job(contributor):
    content = csv_bytes([row("A-1")])

    first = upload_file(contributor, content, HTTP_IDEMPOTENCY_KEY="upload-abc")
    again = upload_file(contributor, content, HTTP_IDEMPOTENCY_KEY="upload-abc")

    assert again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert Upload.objects.count() == 1


def test_processing_twice_changes_nothing(contributor):
    upload = run(upload_file(contributor, csv_bytes([row("A-1"), row("A-2")])))

    assert uploads.process(upload.pk) is None
    upload.refresh_from_db()
    assert (upload.created_count, upload.updated_count) == (2, 0)


def test_resuming_from_a_checkpoint_stores_the_rest_exactly_once(contributor, settings):
    """A worker died after its first chunk committed: the next one carries on from the checkpoint."""
    settings.UPLOAD_CHUNK_ROWS = 2
    rows = [row(f"A-{n}") for n in range(1, 6)] + [row("A-1", category="default")]
    response = upload_file(contributor, csv_bytes(rows))
    upload = uploads.claim(response.json()["id"])
    assert upload is not None
    with upload.file.storage.open(upload.file.name or "", "rb") as handle:
        raw = handle.file
        assert raw is not None
        source = files.records(raw, "csv", uploads.FLAG_FILE)
        first_chunk = next(uploads.prepared(source, uploads.FLAGS.rows(upload), 2))
        source.close()

    uploads._commit_chunk(upload, first_chunk, uploads.FLAGS)
    Upload.objects.filter(pk=upload.pk).update(status="running", rows_total=6)

    uploads.process(upload.pk)

    upload.refresh_from_db()
    assert (upload.status, upload.rows_done, upload.attempts) == ("succeeded", 6, 2)
    assert (upload.created_count, upload.updated_count, upload.superseded_count) == (5, 0, 1)
    assert Flag.objects.count() == 5
    assert report(contributor, upload)[1] == [
        "2",
        "reference",
        "superseded",
        "Row 7 has the same reference; the later row was stored.",
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-based path is PostgreSQL's")
def test_the_set_based_and_portable_paths_store_the_same(cast, client_for, monkeypatch, settings):
    settings.UPLOAD_CHUNK_ROWS = 3
    content = csv_bytes([*MIXED, row("A-6", end_date="2026-04-01"), row("A-7", details=None)])
    alpha, beta = client_for(cast.alpha["contributor"]), client_for(cast.beta["contributor"])

    set_based = run(upload_file(alpha, content))
    monkeypatch.setattr(storing, "copy_and_merge", None)
    monkeypatch.setattr(connection, "vendor", "portable")
    portable = run(upload_file(beta, content))
    monkeypatch.undo()

    counts = ("created_count", "updated_count", "superseded_count", "rejected_count", "rows_done")
    assert [getattr(set_based, name) for name in counts] == [getattr(portable, name) for name in counts]
    assert report(alpha, set_based)[1:] == report(beta, portable)[1:]
    fields = ("reference", "category", "event_date", "end_date", "status", "expires_on", "source_row")
    mine = [
        tuple(bytes(v) if isinstance(v, memoryview) else v for v in f)
        for f in Flag.objects.filter(institution=cast.alpha.institution).order_by("reference").values_list(*fields)
    ]
    theirs = [
        tuple(bytes(v) if isinstance(v, memoryview) else v for v in f)
        for f in Flag.objects.filter(institution=cast.beta.institution).order_by("reference").values_list(*fields)
    ]
    assert mine == theirs
    assert tokens_by_reference(cast.alpha.institution) == tokens_by_reference(cast.beta.institution)
    from sharing.keys import datakeys as keys

    assert keys.details_of(Flag.objects.get(institution=cast.beta.institution, reference="A-1")) == keys.details_of(
        Flag.objects.get(institution=cast.alpha.institution, reference="A-1")
    )


def test_uploads_of_another_institution_do_not_exist(cast, client_for, contributor):
    upload = run(upload_file(contributor, csv_bytes([row("A-1"), row("A-2", category="late")])))
    beta = client_for(cast.beta["contributor"])

    assert beta.get(f"{URL}/{upload.pk}").status_code == 404
    assert beta.get(f"{URL}/{upload.pk}/errors").status_code == 404
    assert beta.get(URL).json()["results"] == []


def test_a_key_with_the_flags_scope_uploads_and_every_step_is_audited(cast, key_client):
    client, key = key_client(cast.alpha.institution, scopes=[Scope.FLAGS_WRITE])

    upload = run(upload_file(client, csv_bytes([row("A-1")])))
    client.get(f"{URL}/{upload.pk}")
    report(client, upload)

    assert upload.created_by_key == key
    actions = set(AuditEvent.objects.filter(target_id=str(upload.pk)).values_list("action", flat=True))
    assert actions == {
        AuditAction.UPLOAD_CREATE,
        AuditAction.UPLOAD_PROCESS,
        AuditAction.UPLOAD_VIEW,
        AuditAction.UPLOAD_ERRORS,
    }


def test_the_report_defuses_spreadsheet_formulas_in_field_names(contributor):
    line = json.dumps({**row("J-1"), "=HYPERLINK(1)": 1})

    upload = run(upload_file(contributor, line.encode(), name="flags.jsonl"))

    assert report(contributor, upload)[1][1] == "'=HYPERLINK(1)"


def test_storing_paths_share_one_definition_of_what_an_upsert_replaces():
    assert "disputed" not in storing.REPLACED
    assert "created_at" not in storing.REPLACED


def test_the_report_answers_a_caller_that_asks_for_csv(contributor):
    upload = run(upload_file(contributor, csv_bytes([row("A-1", category="late")])))

    response = contributor.get(f"{URL}/{upload.pk}/errors", HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert b"".join(response.streaming_content).decode().splitlines()[1].startswith("2,category,unknown_category,")


def test_the_same_file_under_another_name_is_the_same_idempotent_upload(contributor):
    content = csv_bytes([row("A-1")])

    first = upload_file(contributor, content, name="a.csv", HTTP_IDEMPOTENCY_KEY="upload-sha256-1")
    again = upload_file(contributor, content, name="b.csv", HTTP_IDEMPOTENCY_KEY="upload-sha256-1")

    assert again.json()["id"] == first.json()["id"]


def test_another_file_under_a_used_idempotency_key_is_refused(contributor):
    upload_file(contributor, csv_bytes([row("A-1")]), HTTP_IDEMPOTENCY_KEY="upload-sha256-2")

    response = upload_file(contributor, csv_bytes([row("A-2")]), HTTP_IDEMPOTENCY_KEY="upload-sha256-2")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert response.json()["title"] == "Unprocessable request"
    assert Upload.objects.count() == 1


def test_a_replayed_upload_answer_names_its_job_and_is_audited_as_a_replay(contributor):
    content = csv_bytes([row("A-1")])
    first = upload_file(contributor, content, HTTP_IDEMPOTENCY_KEY="upload-sha256-3")

    again = upload_file(contributor, content, HTTP_IDEMPOTENCY_KEY="upload-sha256-3")

    assert again["Location"] == first["Location"]
    events = AuditEvent.objects.filter(action=AuditAction.UPLOAD_CREATE).order_by("id")
    assert [(event.target_id, event.reason) for event in events] == [
        (str(first.json()["id"]), ""),
        (str(first.json()["id"]), "idempotent_replay"),
    ]


def test_a_request_that_rolls_back_leaves_no_file_behind(contributor, monkeypatch, settings):
    from django.db import IntegrityError

    from sharing.models import IdempotentRequest

    folder = Path(settings.STORAGES["uploads"]["OPTIONS"]["location"])
    before = {path for path in folder.rglob("*") if path.is_file()} if folder.exists() else set()

    def racing(**fields):
        raise IntegrityError("another request with this key committed first")

    monkeypatch.setattr(IdempotentRequest.objects, "create", racing)
    response = upload_file(contributor, csv_bytes([row("A-1")]), HTTP_IDEMPOTENCY_KEY="upload-sha256-4")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_flight"
    assert {path for path in folder.rglob("*") if path.is_file()} == before


def test_a_job_that_keeps_failing_is_given_up_after_five_starts(contributor):
    response = upload_file(contributor, csv_bytes([row("A-1")]))
    Upload.objects.filter(pk=response.json()["id"]).update(status="running", attempts=5)

    assert uploads.process(response.json()["id"]) is None

    upload = Upload.objects.get(pk=response.json()["id"])
    assert (upload.status, upload.error_code) == ("failed", "too_many_attempts")
    assert not upload.file


def test_the_file_is_deleted_once_its_job_has_ended(contributor, django_capture_on_commit_callbacks):
    response = upload_file(contributor, csv_bytes([row("A-1")]))
    stored = Upload.objects.get(pk=response.json()["id"]).file
    storage, name = stored.storage, str(stored.name)
    assert storage.exists(name)

    with django_capture_on_commit_callbacks(execute=True):
        upload = run(response)

    assert upload.file.name == ""
    assert not storage.exists(name), "the file holds member tokens"


def test_an_upload_holds_flags_unless_it_says_otherwise(contributor):
    flags = contributor.post(
        URL, {"file": SimpleUploadedFile("flags.csv", csv_bytes([row("A-1")]))}, format="multipart"
    )
    unknown = contributor.post(
        URL,
        {"file": SimpleUploadedFile("flags.csv", csv_bytes([row("A-1")])), "kind": "portfolio"},
        format="multipart",
    )

    assert flags.status_code == 202
    assert flags.json()["kind"] == "flags"
    assert Upload.objects.get().kind == "flags"
    assert unknown.status_code == 400
    assert [(error["field"], error["code"]) for error in unknown.json()["errors"]] == [("kind", "invalid_choice")]
