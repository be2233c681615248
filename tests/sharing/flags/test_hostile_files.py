"""Hostile files: no row, line, header or byte sequence crashes, stalls or leaks from an upload or inspection.

Each row a worker cannot take is a refusal of that row; any other error fails the job at once
with a code and a message holding no member data; nothing a member sent reaches a log line.
"""

import csv
import importlib
import io
import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection
from django.utils import timezone
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.choices import AuditAction
from accounts.models import AuditEvent
from config.logs import ScrubExceptions
from memberkit import labels
from sharing.flags import reading as files
from sharing.flags import services, storing, uploads
from sharing.flags.checking import Checker
from sharing.flags.reading import FileRefused
from sharing.matching import inspections
from sharing.models import Flag, Inspection, InspectionError, Report, Upload, UploadError
from sharing.reports import gathering as reporting
from sharing.reports import jobs as reports
from sharing.tasks import resume_stalled_uploads
from tests.factories import flag_item, member_token_of
from tests.workers import start_worker, wait_for

CANARY = "Kanarie7Q3ZX"  # planted in what members send; must never come back out
COLUMNS = ["reference", "id_type", "token", "category", "event_date", "notice_date", "notice_channel", "details"]
TOKEN = member_token_of("11010519491231002X")


# --- building files ---------------------------------------------------------------------------------------


def jsonl(items: list[Any], ending: str = "\n") -> bytes:
    """JSON Lines written with JSON escapes (ensure_ascii), so a lone surrogate or NUL travels as \\ud800, \\u0000."""
    return "".join((item if isinstance(item, str) else json.dumps(item)) + ending for item in items).encode()


def csv_file(rows: list[list[str]], columns: list[str] = COLUMNS, ending: str = "\r\n") -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=ending)
    writer.writerow(columns)
    writer.writerows(rows)
    return text.getvalue().encode()


def csv_row(reference: str, **fields: str) -> list[str]:
    item = flag_item(reference, **fields)
    return [
        json.dumps(item[c]) if c == "details" and isinstance(item[c], dict) else str(item.get(c, "")) for c in COLUMNS
    ]


def send_upload(client: Any, content: bytes, name: str = "flags.jsonl") -> Any:
    return client.post("/api/v1/uploads", {"file": SimpleUploadedFile(name, content)}, format="multipart")


def send_inspection(client: Any, content: bytes, name: str = "portfolio.jsonl") -> Any:
    data = {"file": SimpleUploadedFile(name, content), "portfolio": "book", "purpose": "post_loan_review"}
    return client.post("/api/v1/inspections", data, format="multipart")


def processed(response: Any) -> Upload:
    """The upload job run to its end in this process, as the worker runs it."""
    assert response.status_code == 202, response.json()
    uploads.process(response.json()["id"])
    return Upload.objects.get(pk=response.json()["id"])


def inspected(response: Any) -> Inspection:
    assert response.status_code == 202, response.json()
    inspection_id = response.json()["id"]
    for number in inspections.start(inspection_id):
        inspections.match_part(inspection_id, number, on_last=lambda: None)
    inspections.finish(inspection_id)
    return Inspection.objects.get(pk=inspection_id)


def refusals(upload: Upload) -> list[tuple[int, str, str]]:
    return list(UploadError.objects.filter(upload=upload).order_by("row", "id").values_list("row", "field", "code"))


def adds_up(upload: Upload) -> bool:
    counted = upload.created_count + upload.updated_count + upload.superseded_count + upload.rejected_count
    return counted == upload.rows_done and (upload.status != "succeeded" or upload.rows_done == upload.rows_total)


@pytest.fixture
def contributor(cast, client_for):
    return client_for(cast.alpha["contributor"])


@pytest.fixture
def analyst(cast, client_for):
    services.contribute(cast.alpha.institution, [flag_item("OWN-1")])  # a member that contributes may inspect
    return client_for(cast.alpha["analyst"])


@pytest.fixture
def second_merge_raises(monkeypatch: pytest.MonkeyPatch) -> Callable[[Exception], None]:
    """``arm(error)``: the second chunk an upload merges raises ``error``; every other chunk is merged."""

    def arm(error: Exception) -> None:
        merge = storing.upsert_orm if connection.vendor == "sqlite" else storing.copy_and_merge
        calls = []

        def merge_or_raise(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 2:
                raise error
            return merge(*args, **kwargs)

        monkeypatch.setattr("sharing.flags.storing.copy_and_merge", merge_or_raise)
        monkeypatch.setattr("sharing.flags.storing.upsert_orm", merge_or_raise)

    return arm


# --- rows that cannot be stored are refused one by one ----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("hostile", "field", "code"),
    [
        ({"details": {"n": "\ud800"}}, "details", "unstorable_text"),
        ({"details": {"n": "\x00"}}, "details", "unstorable_text"),
        ({"details": {"\udfff": 1}}, "details", "unstorable_text"),
        ({"details": {"n": ["a", {"m": "b\x00"}]}}, "details", "unstorable_text"),
        ({"details": '{"n": "\\ud800"}'}, "details", "unstorable_text"),  # details as JSON text, as in a CSV
        ({"details": '{"n": "\ud800"}'}, "details", "unstorable_text"),
        ({"details": json.loads("[" * 40 + "{}" + "]" * 40)}, "details", "bad_details"),
        ({"details": {"n": json.loads("[" * 40 + "]" * 40)}}, "details", "details_too_deep"),
        ({"details": "[" * 100_000}, "details", "bad_details"),
        ({"details": '{"n":' + "[" * 100_000 + "]" * 100_000 + "}"}, "details", "details_too_deep"),
        ({"reference": "R\x00"}, "reference", None),  # refused whatever the code of the rule on labels
        ({"reference": "\ud800"}, "reference", None),
        ({"id_type": "\ud800"}, "id_type", "unknown_id_type"),
        ({"category": ["\x00"]}, "category", "unknown_category"),
        ({"token": "\ud800" * 64}, "token", "bad_token"),
        ({"event_date": "2026-\ud800-01"}, "event_date", "bad_date"),
    ],
)
def test_a_row_holding_what_cannot_be_stored_is_refused_and_the_rest_is_stored(contributor, hostile, field, code):
    content = jsonl([flag_item("A-1"), {**flag_item("A-2"), **hostile}, flag_item("A-3")])

    upload = processed(send_upload(contributor, content))

    assert upload.status == "succeeded", upload.error
    assert (upload.created_count, upload.rejected_count) == (2, 1)
    assert (2, field) in {(row, name) for row, name, found in refusals(upload) if code in (None, found)}
    assert set(Flag.objects.values_list("reference", flat=True)) == {"A-1", "A-3"}


@pytest.mark.django_db
def test_a_line_nested_100000_deep_is_refused_as_a_row(contributor):
    content = jsonl([flag_item("A-1"), "[" * 100_000 + "]" * 100_000, flag_item("A-3")])

    upload = processed(send_upload(contributor, content))

    assert upload.status == "succeeded", upload.error
    assert refusals(upload) == [(2, "", "too_deep")]
    assert adds_up(upload)


@pytest.mark.django_db
def test_a_row_that_raises_while_it_is_checked_is_refused_without_its_message(contributor, monkeypatch, caplog):
    check = Checker.check

    def failing(self, item):
        if item["reference"] == "A-2":
            raise ValueError(f"{item['details']} {CANARY}")
        return check(self, item)

    monkeypatch.setattr(Checker, "check", failing)
    caplog.set_level(logging.DEBUG)

    upload = processed(send_upload(contributor, jsonl([flag_item("A-1"), flag_item("A-2"), flag_item("A-3")])))

    assert upload.status == "succeeded", upload.error
    assert refusals(upload) == [(2, "", "unprocessable_row")]
    assert adds_up(upload)
    assert_no_canary(caplog.records, upload)


@pytest.mark.django_db
def test_an_unknown_field_named_with_a_nul_or_a_surrogate_is_reported_escaped(contributor):
    content = jsonl([flag_item("A-1", **{"n\x00te": 1, "\ud800": 2, "x" * 500: 3})])

    upload = processed(send_upload(contributor, content))

    assert upload.status == "succeeded", upload.error
    fields = {field for _row, field, code in refusals(upload) if code == "unknown_field"}
    assert fields == {"n\\x00te", "\\ud800", "x" * 64}


@pytest.mark.django_db
def test_a_row_with_a_hundred_thousand_unknown_fields_gets_a_short_report(contributor):
    content = jsonl([flag_item("A-1", **{f"f{n}": n for n in range(100_000)})])

    upload = processed(send_upload(contributor, content))

    assert upload.rejected_count == 1
    assert UploadError.objects.filter(upload=upload, code="unknown_field").count() == 10


@pytest.mark.django_db
def test_a_csv_details_column_with_an_escaped_surrogate_is_refused(contributor):
    rows = [csv_row("A-1"), csv_row("A-2", details='{"n":"\\ud800"}'), csv_row("A-3", details='{"n":"\\u0000"}')]

    upload = processed(send_upload(contributor, csv_file(rows), name="flags.csv"))

    assert upload.status == "succeeded", upload.error
    assert refusals(upload) == [(3, "details", "unstorable_text"), (4, "details", "unstorable_text")]


# --- headers and line endings -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["no\x00te", "no\u202ete", "no\x85te", "no\nte"])
def test_a_header_column_holding_a_control_character_is_refused_with_the_name_escaped(contributor, name):
    response = send_upload(contributor, csv_file([[*csv_row("A-1"), "x"]], [*COLUMNS, name]), name="flags.csv")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": f"columns.{files.shown(name)}", "code": "unknown_column", "message": "Not a column of a flag file."}
    ]
    assert "\\" in files.shown(name)
    assert files.shown(name).isascii()


@pytest.mark.django_db
def test_a_header_longer_than_the_api_checks_is_refused_by_the_api(contributor):
    columns = [*COLUMNS[:-1], "details" + " " * 70_000, "no\x00te"]

    response = send_upload(contributor, csv_file([[*csv_row("A-1"), "x"]], columns), name="flags.csv")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "header_too_long"


@pytest.mark.django_db
def test_a_worker_given_a_long_header_naming_a_nul_column_fails_the_job_with_the_name_escaped(cast):
    columns = [*COLUMNS[:-1], "details" + " " * 70_000, "no\x00te"]
    content = csv_file([[*csv_row("A-1"), "x"]], columns)
    upload = Upload.objects.create(  # past the API's check, as a file stored before it existed would be
        institution=cast.alpha.institution,
        file_name="flags.csv",
        file_format="csv",
        size_bytes=len(content),
        file=SimpleUploadedFile("flags.csv", content),
    )

    uploads.process(upload.pk)

    upload.refresh_from_db()
    assert (upload.status, upload.error_code) == ("failed", "unknown_column")
    assert "no\\x00te" in upload.error
    assert "\x00" not in upload.error


@pytest.mark.django_db
@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r", "mixed"])
def test_a_csv_file_with_any_line_ending_is_accepted_and_read(contributor, ending):
    rows = [COLUMNS, csv_row("A-1"), csv_row("A-2", category="late"), csv_row("A-3"), csv_row("A-4")]
    lines = []
    for row in rows:
        line = io.StringIO()
        csv.writer(line, lineterminator="").writerow(row)
        lines.append(line.getvalue())
    endings = ["\r", "\n", "\r\n", "\r", "\n"] if ending == "mixed" else [ending] * len(lines)
    content = "".join(line + end for line, end in zip(lines, endings, strict=True)).encode()

    upload = processed(send_upload(contributor, content, name="flags.csv"))

    assert upload.status == "succeeded", upload.error
    assert (upload.rows_total, upload.created_count) == (4, 3)
    assert refusals(upload) == [(3, "category", "unknown_category")]  # numbered by line, whatever the ending


@pytest.mark.django_db
@pytest.mark.parametrize("ending", ["\r", "\r\n"])
def test_an_inspection_file_with_cr_line_endings_is_accepted_and_read(analyst, ending):
    content = f"correlation_id,id_type,token{ending}L-1,cnid,{TOKEN}{ending}L-2,cnid,bad{ending}".encode()

    inspection = inspected(send_inspection(analyst, content, name="portfolio.csv"))

    assert inspection.status == "succeeded", inspection.error
    assert (inspection.rows_done, inspection.rejected_count) == (2, 1)


@given(st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
@hypothesis_settings(max_examples=300, deadline=None)
def test_reading_a_header_gives_columns_or_a_refusal_never_another_error(content):
    try:
        columns = files.read_header(io.BytesIO(content))
    except FileRefused:
        return
    assert columns
    assert all(isinstance(column, str) for column in columns)


# --- inspections -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_inspection_row_with_unstorable_text_or_deep_nesting_is_refused(analyst):
    rows = [
        {"correlation_id": "L-1", "id_type": "cnid", "token": TOKEN},
        {"correlation_id": "L\x00", "id_type": "cnid", "token": TOKEN},
        {"correlation_id": "\ud800", "id_type": "cnid", "token": TOKEN},
        {"correlation_id": "L-4", "id_type": ["cnid"], "token": TOKEN},
        {"correlation_id": "L-5", "id_type": {"a": 1}, "token": TOKEN},
        "[" * 100_000 + "]" * 100_000,
        {"correlation_id": "L-7", "id_type": "cnid", "token": TOKEN},
    ]

    inspection = inspected(send_inspection(analyst, jsonl(rows)))

    assert inspection.status == "succeeded", inspection.error
    assert (inspection.rows_done, inspection.rejected_count) == (7, 5)
    assert list(InspectionError.objects.filter(inspection=inspection).order_by("row").values_list("row", "code")) == [
        (2, "unstorable_text"),
        (3, "unstorable_text"),
        (4, "unknown_id_type"),
        (5, "unknown_id_type"),
        (6, "too_deep"),
    ]


def test_an_inspection_row_that_raises_while_it_is_read_is_refused_and_the_rest_matched(analyst, monkeypatch, caplog):
    def raising(label: str) -> bool:
        if label == "L-2":
            raise ValueError(CANARY)
        return labels.holds_identifier(label)

    monkeypatch.setattr("sharing.matching.inspections.holds_identifier", raising)
    caplog.set_level(logging.DEBUG)
    rows = [{"correlation_id": f"L-{n}", "id_type": "cnid", "token": TOKEN} for n in (1, 2, 3)]

    inspection = inspected(send_inspection(analyst, jsonl(rows)))

    assert inspection.status == "succeeded", inspection.error
    assert (inspection.rows_done, inspection.rejected_count) == (3, 1)
    refused = InspectionError.objects.filter(inspection=inspection).values_list("row", "field", "code")
    assert list(refused) == [(2, "", "unprocessable_row")]
    assert_no_canary(caplog.records, inspection)


# --- unexpected errors fail the job at once ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the job commits chunk by chunk, as in production
def test_an_unexpected_error_fails_the_upload_at_once_and_sending_the_file_again_completes_it(
    contributor, settings, second_merge_raises, caplog
):
    settings.UPLOAD_CHUNK_ROWS = 2
    content = jsonl([flag_item(f"A-{n}") for n in range(1, 7)])
    second_merge_raises(ValueError(f"{CANARY}: the second chunk"))
    caplog.set_level(logging.DEBUG)

    upload = processed(send_upload(contributor, content))

    assert (upload.status, upload.error_code) == ("failed", "internal_error")
    assert upload.rows_done == 2
    assert upload.created_count == 2
    assert upload.error.startswith("An unexpected error stopped the job after 2 rows (2 flags stored)")
    assert "send the same file again" in upload.error
    assert adds_up(upload)
    assert_no_canary(caplog.records, upload)
    reference = upload.error.rsplit("Reference ", 1)[1].rstrip(".")
    assert any(reference in record.getMessage() and "ValueError" in record.getMessage() for record in caplog.records)

    again = processed(send_upload(contributor, content))

    assert again.status == "succeeded", again.error
    assert (again.created_count, again.updated_count) == (4, 2)
    assert Flag.objects.count() == 6


@pytest.mark.django_db(transaction=True)
def test_a_lost_database_connection_leaves_the_upload_at_its_checkpoint_to_be_resumed(
    contributor, settings, second_merge_raises
):
    settings.UPLOAD_CHUNK_ROWS = 2
    content = jsonl([flag_item(f"A-{n}") for n in range(1, 7)])
    second_merge_raises(OperationalError("server closed the connection unexpectedly"))
    response = send_upload(contributor, content)

    with pytest.raises(OperationalError):
        uploads.process(response.json()["id"])

    upload = Upload.objects.get(pk=response.json()["id"])
    assert (upload.status, upload.rows_done) == ("running", 2)
    resumed = uploads.process(upload.pk)
    assert resumed is not None
    assert resumed.status == "succeeded"
    assert (resumed.rows_done, resumed.created_count, resumed.attempts) == (6, 6, 2)


@pytest.mark.django_db
def test_an_unexpected_error_fails_a_report_at_once_and_the_log_has_no_message(cast, monkeypatch, caplog):
    def failing(period: Any) -> Any:
        raise ValueError(CANARY)

    monkeypatch.setattr(reporting, "gather", failing)
    caplog.set_level(logging.DEBUG)
    report = Report.objects.create(
        starts_on=timezone.localdate() - timedelta(days=30), ends_on=timezone.localdate(), trigger="requested"
    )

    built = reports.build(report.pk)

    assert built is not None
    assert (built.status, built.error_code) == ("failed", "internal_error")
    assert built.error.startswith("An unexpected error stopped the report; request it again. Reference ")
    event = AuditEvent.objects.get(action=AuditAction.REPORT_BUILD, target_id=str(report.pk))
    assert (event.outcome, event.reason) == ("failed", "internal_error")
    assert_no_canary(caplog.records)


# --- logs -------------------------------------------------------------------------------------------------


def platform_lines(records: list[logging.LogRecord]) -> list[str]:
    """Each record as the platform's configured handlers write it (settings.LOGGING), exception included."""
    configured: dict[str, Any] = settings.LOGGING
    handlers = []
    for name, config in configured["handlers"].items():
        handler = logging.StreamHandler(io.StringIO())
        formatter = configured["formatters"][config["formatter"]]
        handler.setFormatter(logging.Formatter(formatter["format"]))
        for filter_name in config.get("filters", []):
            factory = configured["filters"][filter_name]["()"]
            module, _, attribute = factory.rpartition(".")
            handler.addFilter(getattr(importlib.import_module(module), attribute)())
        handlers.append((name, handler))
    lines = []
    for record in records:
        for _name, handler in handlers:
            if handler.filter(record):
                lines.append(handler.format(record))
    return lines


def assert_no_canary(records: list[logging.LogRecord], *jobs: Upload | Inspection) -> None:
    for line in platform_lines(records):
        assert CANARY not in line, line
    for job in jobs:
        assert CANARY not in job.error
        errors = UploadError if isinstance(job, Upload) else InspectionError
        for field, message in errors.objects.filter(**{type(job).__name__.lower(): job}).values_list(
            "field", "message"
        ):
            assert CANARY not in field + message


def test_every_handler_of_the_platform_scrubs_exceptions():
    configured: dict[str, Any] = settings.LOGGING
    for name, handler in configured["handlers"].items():
        assert "scrub" in handler.get("filters", []), name
    assert configured["filters"]["scrub"]["()"] == "config.logs.ScrubExceptions"


def test_workers_and_beat_log_through_the_platforms_handlers():
    from celery.signals import setup_logging

    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    try:
        setup_logging.send(sender=None, loglevel="INFO", logfile=None, format="", colorize=False)

        assert root.level == logging.INFO
        assert root.handlers
        assert all(any(isinstance(f, ScrubExceptions) for f in handler.filters) for handler in root.handlers)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def raise_with(message: str) -> None:
    try:
        message.encode()
    except UnicodeEncodeError as error:
        raise RuntimeError(f"while storing {message}") from error


def test_an_exception_is_logged_by_its_type_and_frames_never_its_message(caplog):
    caplog.set_level(logging.DEBUG)
    try:
        raise_with(f'{{"n": "{CANARY}\ud800"}}')
    except RuntimeError:
        logging.getLogger("sharing.flags.uploads").exception("upload 1 failed: %s", sys.exc_info()[1])

    [line] = platform_lines(caplog.records)
    assert CANARY not in line
    assert "UnicodeEncodeError (message withheld)" in line
    assert "RuntimeError (message withheld)" in line
    assert "in raise_with" in line  # the frames stay, for whoever has to find the fault


def test_celerys_raised_unexpected_line_holds_the_type_only(caplog):
    from celery.app.trace import LOG_FAILURE

    caplog.set_level(logging.DEBUG)
    error = UnicodeEncodeError("utf-8", f'{{"n":"{CANARY}\ud800"}}', 12, 13, "surrogates not allowed")
    context = {"id": "1", "name": "sharing.tasks.process_upload", "description": "raised unexpected"}
    context |= {"exc": repr(error), "traceback": f"Traceback...\n{error!r}"}
    logging.getLogger("celery.app.trace").error(
        LOG_FAILURE, context, exc_info=(type(error), error, None), extra={"data": context}
    )

    [line] = platform_lines(caplog.records)
    assert CANARY not in line
    assert "raised unexpected: UnicodeEncodeError (message withheld)" in line
    assert CANARY not in repr(caplog.records[0].data)


def test_the_scrubbing_filter_leaves_other_records_as_they_are():
    record = logging.LogRecord("sharing.flags.uploads", logging.INFO, __file__, 1, "upload %s: %s rows", (7, 12), None)

    assert ScrubExceptions().filter(record)
    assert record.getMessage() == "upload 7: 12 rows"


# --- through a real worker --------------------------------------------------------------------------------


def finished(model: type[Upload] | type[Inspection], pk: int, seconds: float = 90) -> Any:
    wait_for(lambda: model.objects.get(pk=pk).is_finished, seconds)
    return model.objects.get(pk=pk)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_fifty_thousand_good_rows_then_a_surrogate_row_store_and_refuse_that_row(celery_worker, contributor, settings):
    settings.UPLOAD_CHUNK_ROWS = 10_000
    good = "".join(json.dumps(flag_item(f"R-{n}", details={"n": n})) + "\n" for n in range(50_000))
    content = (good + json.dumps(flag_item("R-BAD", details={"n": "\ud800"})) + "\n").encode()

    response = send_upload(contributor, content)
    upload = finished(Upload, response.json()["id"], 180)

    assert upload.status == "succeeded", upload.error
    assert (upload.rows_total, upload.created_count, upload.rejected_count) == (50_001, 50_000, 1)
    assert refusals(upload) == [(50_001, "details", "unstorable_text")]
    assert adds_up(upload)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_unexpected_error_in_an_inspection_fails_it_at_once(celery_worker, analyst, monkeypatch, caplog):
    def failing(*args: Any) -> None:
        raise ValueError(CANARY)

    monkeypatch.setattr(inspections, "_match_set_wise", failing)
    monkeypatch.setattr(inspections, "_match_portable", failing)
    caplog.set_level(logging.DEBUG)
    content = jsonl([{"correlation_id": f"L-{n}", "id_type": "cnid", "token": TOKEN} for n in range(3)])

    inspection = finished(Inspection, send_inspection(analyst, content).json()["id"])

    assert (inspection.status, inspection.error_code) == ("failed", "internal_error")
    assert inspection.error.startswith("An unexpected error stopped the job after 0 rows;")
    assert_no_canary(caplog.records, inspection)


def portfolio_row(n: int) -> dict[str, Any]:
    return {"correlation_id": f"L-{n}", "id_type": "cnid", "token": TOKEN}


# Hostile values: arbitrary text with the characters that break things most, written as JSON escapes.
NASTY = st.sampled_from(["\x00", "\ud800", "\udfff", "\u202e", "\r", "\n", "\x85", "\u2028", "\ufeff", '"', "\\"])
TEXT = st.lists(st.characters(exclude_categories=()) | NASTY, max_size=30).map("".join)
DEEP = st.sampled_from([40, 990, 5_000, 100_000]).map(lambda n: "[" * n + "]" * n)
HUGE = st.sampled_from([70_000, 200_000]).map(lambda n: "x" * n)
VALUE = TEXT | DEEP | HUGE | st.integers() | st.none() | st.lists(TEXT, max_size=3)
# Raw text in a file: a lone surrogate as the six characters of its escape, or now and then as the
# bytes UTF-8 would give it if it could (then the whole file is refused as not UTF-8).
RAW_TEXT = st.tuples(TEXT, st.integers(0, 9)).map(
    lambda drawn: drawn[0] if drawn[1] == 0 else re.sub("[\ud800-\udfff]", lambda m: ascii(m.group())[1:-1], drawn[0])
)
FIELD = st.sampled_from([*COLUMNS, "end_date", "amount_band"]) | TEXT
ENDING = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def hostile_lines(draw: Callable[..., Any], valid: Callable[[int], dict[str, Any]]) -> list[str]:
    """Valid items, some with a field replaced by something hostile, some lines not items at all."""
    lines = []
    for n in range(draw(st.integers(1, 8))):
        item = valid(n)
        kind = draw(st.sampled_from(["valid", "field", "field", "nested", "line"]))
        if kind == "field":
            item[draw(FIELD)] = draw(VALUE)
        elif kind == "nested":
            item[draw(FIELD)] = json.loads(draw(st.sampled_from(["[" * 40 + "]" * 40, '{"a":' * 60 + "1" + "}" * 60])))
        if kind == "line":
            lines.append(draw(DEEP | TEXT.map(json.dumps) | RAW_TEXT))
        else:
            lines.append(json.dumps(item))
    return lines


def joined(draw: Callable[..., Any], lines: list[str]) -> bytes:
    return "".join(line + draw(ENDING) for line in lines).encode("utf-8", "surrogatepass")


@st.composite
def hostile_portfolios(draw: Callable[..., Any]) -> bytes:
    return joined(draw, draw(hostile_lines(portfolio_row)))


@st.composite
def hostile_uploads(draw: Callable[..., Any]) -> tuple[str, bytes]:
    if draw(st.booleans()):
        return "flags.jsonl", joined(draw, draw(hostile_lines(lambda n: flag_item(f"H-{n}"))))
    columns = list(COLUMNS)
    if draw(st.booleans()):
        columns.insert(draw(st.integers(0, len(columns))), draw(RAW_TEXT if draw(st.integers(0, 3)) else HUGE))
    rows = [[draw(RAW_TEXT | HUGE) if draw(st.booleans()) else value for value in csv_row(f"H-{n}")] for n in range(4)]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=draw(ENDING))
    writer.writerow(columns)
    writer.writerows(rows)
    return "flags.csv", text.getvalue().encode("utf-8", "surrogatepass")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@given(upload=hostile_uploads(), portfolio=hostile_portfolios())
@hypothesis_settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
def test_hostile_files_end_every_job_with_counts_that_add_up(celery_worker, contributor, analyst, upload, portfolio):
    name, content = upload
    response = send_upload(contributor, content, name=name)
    if response.status_code == 400:  # refused at once, as a problem with a code
        assert response.json()["errors"][0]["code"]
        event(f"upload refused: {response.json()['errors'][0]['code']}")
    else:
        assert response.status_code == 202, response.content
        job = finished(Upload, response.json()["id"], 60)
        assert job.status == "succeeded" or (job.status == "failed" and job.error_code), job.error
        assert adds_up(job), (job.rows_total, job.rows_done)
        event(f"upload {job.status} {job.error_code}, {job.rejected_count} of {job.rows_total} rows refused")

    response = send_inspection(analyst, portfolio)
    assert response.status_code == 202, response.content
    inspection = finished(Inspection, response.json()["id"], 60)
    assert inspection.status == "succeeded" or (inspection.status == "failed" and inspection.error_code)
    event(f"inspection {inspection.status} {inspection.error_code}")
    if inspection.status == "succeeded":
        assert inspection.rows_done == inspection.rows_total
        assert inspection.rejected_count <= inspection.rows_done


def canary_files() -> tuple[bytes, bytes]:
    """Flags and a portfolio with the canary in details, references, tokens and correlation ids."""
    hostile = [
        flag_item("C-2", details={"note": f"{CANARY}\ud800"}),
        flag_item("C-3", details={"note": f"{CANARY}\x00"}),
        flag_item("C-4", details={"n": json.loads('{"a":' * 50 + f'"{CANARY}"' + "}" * 50)}),
        flag_item(f"{CANARY}\ud800"),
        flag_item("C-6", token=f"{CANARY}\x00"),
        flag_item("C-7", details=f'{{"note": "{CANARY}\\ud800"}}'),
        flag_item(CANARY * 10),
    ]
    flags = [row for n, item in enumerate(hostile) for row in (flag_item(f"V-{n}"), item)]  # each chunk stores one
    portfolio = [
        portfolio_row(1),
        {"correlation_id": f"{CANARY}\x00", "id_type": "cnid", "token": TOKEN},
        {"correlation_id": f"{CANARY}\ud800", "id_type": "cnid", "token": TOKEN},
        {"correlation_id": CANARY * 10, "id_type": "cnid", "token": TOKEN},
        {"correlation_id": "L-5", "id_type": "cnid", "token": CANARY},
    ]
    return jsonl(flags), jsonl(portfolio)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_canary_in_what_members_send_reaches_no_log_line_nor_report(
    celery_worker, contributor, analyst, settings, second_merge_raises, caplog
):
    """In the test's own worker: with every record captured at DEBUG, including Celery's own about a
    database error whose message quotes a row (left to the stall sweep, then resumed)."""
    settings.UPLOAD_CHUNK_ROWS = 2
    caplog.set_level(logging.DEBUG)
    second_merge_raises(OperationalError(f'DETAIL: Key (reference)=({CANARY}) {{"note": "{CANARY}"}}'))
    flags, portfolio = canary_files()

    upload_id = send_upload(contributor, flags).json()["id"]
    wait_for(lambda: any("raised unexpected" in record.getMessage() for record in caplog.records))
    Upload.objects.filter(pk=upload_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    resume_stalled_uploads()
    upload = finished(Upload, upload_id)
    inspection = finished(Inspection, send_inspection(analyst, portfolio).json()["id"])

    assert upload.status == "succeeded", upload.error
    assert (upload.created_count, upload.rejected_count) == (7, 7)
    assert upload.attempts == 2
    assert inspection.status == "succeeded", inspection.error
    assert (inspection.rows_done, inspection.rejected_count) == (5, 4)
    assert_no_canary(caplog.records, upload, inspection)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_canary_reaches_no_line_of_a_worker_process_log(empty_test_queue, contributor, analyst, tmp_path: Path):
    flags, portfolio = canary_files()
    log = tmp_path / "worker.log"
    upload_id = send_upload(contributor, flags).json()["id"]
    inspection_id = send_inspection(analyst, portfolio).json()["id"]

    process = start_worker(log)
    try:
        upload = finished(Upload, upload_id)
        inspection = finished(Inspection, inspection_id)
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert upload.status == inspection.status == "succeeded", log.read_text()
    assert (upload.rejected_count, inspection.rejected_count) == (7, 4)
    assert CANARY not in log.read_text(errors="replace")
    assert_no_canary([], upload, inspection)
