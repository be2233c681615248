"""Regulators' reports: figures against hand counts, suppression, slices, signatures, access and audit."""

import csv
import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from accounts.choices import AuditAction, InstitutionKind, Scope
from accounts.models import AuditEvent
from memberkit import cli
from sharing import tasks
from sharing.models import Report, ReportFile
from sharing.reports import gathering as reporting
from sharing.reports import jobs as reports
from sharing.reports import publishing
from sharing.tasks import build_report
from tests.sharing.reports.october import OCTOBER, known_october
from tests.workers import finishing

pytestmark = pytest.mark.django_db

X = "suppressed"
URL = "/api/v1/reports"


@pytest.fixture
def members(cast):
    return known_october(cast)


def published():
    return publishing.publish(OCTOBER, reporting.gather(OCTOBER), reporting.members())


def cells(figures, name):
    """A table as {(row, column): value}, suppressed cells as X."""
    table = next(table for table in figures["tables"] if table["name"] == name)
    return {
        (row, column): X if hidden else value
        for row, values, flags in zip(table["rows"], table["cells"], table["suppressed"], strict=True)
        for column, value, hidden in zip(table["columns"], values, flags, strict=True)
    }


def test_new_flags_by_institution_match_the_hand_counts_with_small_cells_and_complements_suppressed(members):
    table = cells(published(), "flags_by_institution")
    a, b, c, d = (members[name].code for name in "abcd")

    # Beta's 3 frauds are small; 25 hides them in beta's row, alpha's 12 in the banks' column,
    # and alpha's 40 then keeps alpha's row and the overdue column from giving those away.
    assert table[b, "fraud_confirmed"] == X
    assert table[b, "overdue_90"] == X
    assert table[a, "fraud_confirmed"] == X
    assert table[a, "overdue_90"] == X
    assert (table[a, "all"], table[b, "all"]) == (52, 28)
    assert (table[c, "overdue_90"], table[c, "all"]) == (30, 30)
    assert (table[d, "overdue_90"], table[d, "identity_theft"], table[d, "all"]) == (15, 20, 35)
    assert (table["all", "overdue_90"], table["all", "fraud_confirmed"], table["all", "all"]) == (110, 15, 145)
    assert table[c, "fraud_confirmed"] == 0


def test_sectors_changes_and_filing_delays_match_the_hand_counts(members):
    figures = published()
    by_sector = cells(figures, "flags_by_category_and_sector")
    changes = cells(figures, "flag_changes_by_category")
    delays = cells(figures, "filing_delay_by_sector")

    assert by_sector["overdue_90", "bank"] == 65
    assert by_sector["fraud_confirmed", "bank"] == 15
    assert by_sector["overdue_90", "consumer_finance"] == 30
    assert by_sector["identity_theft", "microlender"] == 20
    assert by_sector["all", "all"] == 145
    assert changes["overdue_90", "new"] == 110
    assert changes["overdue_90", "resolved"] == 12
    # Four expired overdue flags: small, and so is the total of which they are the only part.
    assert (changes["overdue_90", "expired"], changes["all", "expired"]) == (X, X)
    assert changes["all", "withdrawn"] == 0
    assert (delays["bank", "0-30"], delays["bank", "all"]) == (80, 80)
    assert (delays["microlender", "0-30"], delays["microlender", "181-365"]) == (15, 20)
    assert (delays["all", "0-30"], delays["all", "181-365"], delays["all", "all"]) == (125, 20, 145)


def test_queries_inspections_and_data_quality_match_the_hand_counts(members):
    figures = published()
    a, b, c, d = (members[name].code for name in "abcd")
    queries = cells(figures, "queries_by_institution")
    purposes = cells(figures, "queries_by_purpose")
    inspections = cells(figures, "inspections_by_institution")
    quality = cells(figures, "data_quality_by_institution")

    assert (queries[a, "requests"], queries[a, "subjects"], queries[a, "hits"]) == (2, 50, X)
    assert (queries[b, "subjects"], queries[d, "subjects"], queries[d, "hits"]) == (X, X, X)  # 5, its complement
    assert (queries[c, "subjects"], queries[c, "hit_rate"]) == (0, None)  # no denominator: not suppressed
    assert (queries["all", "requests"], queries["all", "subjects"], queries["all", "hits"]) == (4, 95, 20)
    assert queries["all", "hit_rate"] == round(20 / 95, 4)
    assert (queries[a, "flags_contributed"], queries[a, "subjects_per_flag"]) == (52, round(50 / 52, 4))
    assert queries[b, "subjects_per_flag"] == X
    assert (purposes["loan_application", "subjects"], purposes["loan_application", "hits"]) == (50, X)
    assert purposes["post_loan_review", "subjects"] == X
    assert (purposes["post_loan_review", "requests"], purposes["all", "subjects"]) == (1, 95)
    assert (inspections[a, "subjects"], inspections[c, "subjects"], inspections["all", "subjects"]) == (990, 500, 1490)
    assert (inspections[a, "hits"], inspections[c, "hits"], inspections["all", "hits"]) == (X, X, 46)
    assert inspections["all", "hit_rate"] == round(46 / 1490, 4)
    assert (quality[a, "rows"], quality[a, "rejected"], quality[b, "rejected"]) == (2000, X, X)
    assert (quality["all", "uploads"], quality["all", "rejected"], quality["all", "rejected_rate"]) == (
        2,
        32,
        round(32 / 2100, 4),
    )


def test_no_published_cell_holds_a_count_from_one_to_ten_of_borrowers(members):
    figures = published()
    not_borrowers = {"requests", "inspections", "uploads"}
    for table in figures["tables"]:
        for values in table["cells"]:
            for column, value in zip(table["columns"], values, strict=True):
                if column not in not_borrowers and isinstance(value, int):
                    assert not 1 <= value <= 10, (table["name"], column, value)


def test_a_member_slice_holds_only_its_own_rows(members):
    figures = published()
    own = publishing.member_slice(figures, members["c"].code)

    assert {table["name"] for table in own["tables"]} == {
        "flags_by_institution",
        "queries_by_institution",
        "inspections_by_institution",
        "data_quality_by_institution",
    }
    assert all(table["rows"] == [members["c"].code] for table in own["tables"])
    assert [institution["code"] for institution in own["institutions"]] == [members["c"].code]


# The API: request, read, download, verify.


@pytest.fixture
def built(members, cast):
    report = tasks.request_report(OCTOBER.starts_on, OCTOBER.ends_on, by=cast.regulator["regulator_staff"])
    reports.build(report.pk)
    return Report.objects.get(pk=report.pk)


def test_regulator_staff_request_a_report_of_any_period(cast, client_for):
    client = client_for(cast.regulator["regulator_staff"])

    response = client.post(URL, {"starts_on": "2026-07-01", "ends_on": "2026-09-30"}, format="json")

    assert response.status_code == 202, response.content
    report = Report.objects.get(pk=response.json()["id"])
    assert (report.starts_on, report.ends_on, report.trigger, report.status) == (
        date(2026, 7, 1),
        date(2026, 9, 30),
        "requested",
        "queued",
    )
    assert response["Location"].endswith(f"/api/v1/reports/{report.pk}")
    assert AuditEvent.objects.filter(action=AuditAction.REPORT_REQUEST, target_id=str(report.pk)).exists()


def test_a_regulators_system_requests_a_report_with_its_key(cast, key_client):
    client, key = key_client(cast.regulator.institution, scopes=[Scope.REPORTS_READ, Scope.REPORTS_REQUEST])

    response = client.post(URL, {"starts_on": "2026-07-01", "ends_on": "2026-09-30"}, format="json")

    assert response.status_code == 202, response.content
    report = Report.objects.get(pk=response.json()["id"])
    assert (report.trigger, report.requested_by) == ("requested", None)
    event = AuditEvent.objects.get(action=AuditAction.REPORT_REQUEST, target_id=str(report.pk))
    assert event.actor_key_id == key.pk


def test_a_key_without_the_request_scope_only_reads(cast, key_client):
    client, _key = key_client(cast.regulator.institution, scopes=[Scope.REPORTS_READ])

    response = client.post(URL, {"starts_on": "2026-07-01", "ends_on": "2026-09-30"}, format="json")

    assert (response.status_code, response.json()["code"]) == (403, "missing_scope")
    assert not Report.objects.exists()


def test_members_keys_cannot_hold_the_request_scope(cast, client_for):
    answer = client_for(cast.alpha["institution_admin"]).post(
        "/api/v1/api-keys", {"name": "reports", "scopes": [Scope.REPORTS_REQUEST]}, format="json"
    )

    assert answer.status_code == 400
    assert [(error["field"], error["code"]) for error in answer.json()["errors"]] == [("scopes", "scope_not_allowed")]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"starts_on": "2026-10-31", "ends_on": "2026-10-01"}, "ends_on", "end_before_start"),
        ({"starts_on": "2026-10-01", "ends_on": "2099-01-01"}, "ends_on", "future_date"),
        ({"starts_on": "2016-01-01", "ends_on": "2026-01-01"}, "ends_on", "period_too_long"),
        ({"starts_on": "October", "ends_on": "2026-10-31"}, "starts_on", "invalid"),
        ({"ends_on": "2026-10-31"}, "starts_on", "required"),
    ],
)
def test_a_bad_period_is_refused_field_by_field(cast, client_for, body, field, code):
    response = client_for(cast.regulator["regulator_staff"]).post(URL, body, format="json")

    assert response.status_code == 400
    assert {(error["field"], error["code"]) for error in response.json()["errors"]} == {(field, code)}
    assert not Report.objects.exists()


def test_members_may_not_request_reports(cast, client_for):
    response = client_for(cast.alpha["institution_admin"]).post(
        URL, {"starts_on": "2026-10-01", "ends_on": "2026-10-31"}, format="json"
    )

    assert response.status_code == 403


def test_regulators_read_the_whole_report_and_members_only_their_own_rows(built, members, cast, client_for):
    whole = client_for(cast.regulator["regulator_staff"]).get(f"{URL}/{built.pk}").json()
    own = client_for(cast.beta["analyst"]).get(f"{URL}/{built.pk}").json()

    assert whole["status"] == "succeeded"
    assert whole["steps_done"] == whole["steps_total"]
    assert cells(whole["figures"], "flags_by_institution")["all", "all"] == 145
    assert {table["name"] for table in own["figures"]["tables"]} < {t["name"] for t in whole["figures"]["tables"]}
    codes_seen = {row for table in own["figures"]["tables"] for row in table["rows"]}
    assert codes_seen == {members["b"].code}
    assert members["a"].code not in str(own["figures"])
    assert AuditEvent.objects.filter(action=AuditAction.REPORT_VIEW, target_id=str(built.pk)).count() == 2


def test_a_member_downloads_only_its_slice(built, members, cast, client_for):
    response = client_for(cast.beta["auditor"]).get(f"{URL}/{built.pk}/files/csv")

    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {row["row"] for row in rows} == {members["b"].code}
    assert {row["table"] for row in rows} == {
        "flags_by_institution",
        "queries_by_institution",
        "inspections_by_institution",
        "data_quality_by_institution",
    }
    beta_fraud = next(r for r in rows if r["table"] == "flags_by_institution" and r["column"] == "fraud_confirmed")
    assert (beta_fraud["value"], beta_fraud["suppressed"]) == ("", "true")
    assert AuditEvent.objects.filter(action=AuditAction.REPORT_DOWNLOAD, institution=members["b"]).count() == 1


def test_the_xlsx_file_has_a_sheet_per_table_with_suppressed_cells_marked(built, members, cast, client_for):
    response = client_for(cast.regulator["regulator_staff"]).get(f"{URL}/{built.pk}/files/xlsx")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content))
    assert {"report", "flags_by_institution", "queries_by_purpose", "institutions"} <= set(book.sheetnames)
    sheet = book["flags_by_institution"]
    header = [cell.value for cell in sheet[1]]
    row = next(r for r in sheet.iter_rows(values_only=True) if r[0] == members["b"].code)
    assert row[header.index("fraud_confirmed")] == "x"
    assert row[header.index("all")] == 28


def test_a_downloaded_file_verifies_against_the_public_key_and_an_edited_one_does_not(
    built, cast, client_for, anonymous, tmp_path, capsys
):
    client = client_for(cast.regulator["regulator_staff"])
    for file_format in ("csv", "xlsx"):
        (tmp_path / f"report.{file_format}").write_bytes(client.get(f"{URL}/{built.pk}/files/{file_format}").content)
        signature = client.get(f"{URL}/{built.pk}/files/{file_format}/signature")
        assert len(signature.content) == 64
        (tmp_path / f"report.{file_format}.sig").write_bytes(signature.content)
    key = anonymous.get(f"{URL}/public-key").json()
    (tmp_path / "key.pem").write_text(key["public_key_pem"])

    for file_format in ("csv", "xlsx"):
        assert (
            cli.main(["verify", str(tmp_path / f"report.{file_format}"), "--public-key", str(tmp_path / "key.pem")])
            == 0
        )

    edited = tmp_path / "report.csv"
    edited.write_bytes(edited.read_bytes().replace(b",145,", b",146,"))
    assert cli.main(["verify", str(edited), "--public-key", str(tmp_path / "key.pem")]) == 1
    assert "SIGNATURE DOES NOT MATCH" in capsys.readouterr().err


def test_the_files_are_stored_once_per_slice_and_format(built, members):
    whole = ReportFile.objects.filter(report=built, institution__isnull=True)
    slices = ReportFile.objects.filter(report=built, institution__isnull=False)

    assert sorted(whole.values_list("file_format", flat=True)) == ["csv", "xlsx"]
    member_count = len(reporting.members())
    assert slices.count() == 2 * member_count
    assert set(slices.values_list("institution__kind", flat=True)) == {InstitutionKind.MEMBER}


def test_an_unbuilt_report_has_no_files_yet(cast, client_for):
    report = tasks.request_report(OCTOBER.starts_on, OCTOBER.ends_on, by=cast.regulator["regulator_staff"])

    response = client_for(cast.regulator["regulator_staff"]).get(f"{URL}/{report.pk}/files/csv")

    assert response.status_code == 409
    assert response.json()["code"] == "not_finished"


def test_the_monthly_report_is_scheduled_once_per_month(cast):
    first = reports.schedule_month_before(date(2026, 11, 1))
    again = reports.schedule_month_before(date(2026, 11, 2))

    assert first is not None
    assert again is None
    assert (first.starts_on, first.ends_on, first.trigger) == (date(2026, 10, 1), date(2026, 10, 31), "scheduled")


def test_a_member_without_a_sector_is_counted_as_unspecified(members):
    members["d"].sector = ""
    members["d"].save()

    by_sector = cells(published(), "flags_by_category_and_sector")

    assert by_sector["identity_theft", "unspecified"] == 20
    assert ("identity_theft", "microlender") not in by_sector


def test_the_beat_entry_builds_the_monthly_report(settings):
    from config.celery import app
    from sharing.tasks import build_monthly_report

    entry = app.conf.beat_schedule["build-monthly-report"]

    assert entry["task"] == build_monthly_report.name
    assert entry["schedule"].day_of_month == {1}
    assert entry["options"]["expires"] < 24 * 3600


@pytest.mark.worker
def test_beat_sends_the_monthly_report_and_a_real_worker_builds_it(celery_worker, members):
    """Beat's own scheduler applies the entry; the task goes through the broker to a worker."""
    from celery.beat import Scheduler

    from config.celery import app

    scheduler = Scheduler(app, lazy=True)
    scheduler.setup_schedule()
    with finishing(build_report.name):
        scheduler.apply_entry(scheduler.schedule["build-monthly-report"], producer=scheduler.producer)

    report = Report.objects.get()
    assert (report.trigger, report.status) == ("scheduled", "succeeded"), report.error
    assert report.ends_on == date.today().replace(day=1) - timedelta(days=1)
    assert ReportFile.objects.filter(report=report, institution__isnull=True).count() == 2
    assert AuditEvent.objects.filter(action=AuditAction.REPORT_BUILD, target_id=str(report.pk)).exists()


# The portal's report pages.


def test_regulators_see_the_reports_in_the_portal_with_charts_in_chinese(built, members, cast, client):
    client.force_login(cast.regulator["regulator_staff"])

    listing = client.get("/reports/")
    page = client.get(f"/reports/{built.pk}/")

    assert listing.status_code == 200
    assert f"/reports/{built.pk}/" in listing.text
    assert page.status_code == 200
    text = page.text
    assert text.count("<svg") == 2  # by category and by sector; no monthly reports for a trend yet
    assert "按类别统计的新增标记" in text  # zh-Hans is the portal's first language
    assert "逾期90天及以上" in text
    assert members["c"].name_zh in text
    assert ">x<" in text  # suppressed cells show as x, never their values
    assert f"/api/v1/reports/{built.pk}/files/csv" in text
    assert AuditEvent.objects.filter(action=AuditAction.REPORT_VIEW, target_id=str(built.pk)).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.REPORT_LIST).count() == 1


def test_the_portal_speaks_english_on_request(built, cast, client):
    client.force_login(cast.operator["operator"])

    page = client.get(f"/reports/{built.pk}/", HTTP_ACCEPT_LANGUAGE="en")

    assert "New flags by category" in page.text
    assert "Flags contributed" in page.text


def test_the_month_by_month_chart_draws_the_monthly_reports(members, cast, client):
    september = reports.schedule_month_before(date(2026, 10, 1))
    october = reports.schedule_month_before(date(2026, 11, 1))
    assert september is not None
    assert october is not None
    reports.build(september.pk)
    reports.build(october.pk)
    client.force_login(cast.regulator["regulator_staff"])

    text = client.get(f"/reports/{october.pk}/").text

    assert "2026-09" in text
    assert "2026-10" in text
    assert "<title>2026-10: 145</title>" in text  # October's new flags


def test_members_have_no_report_pages_in_the_portal(built, cast, client):
    client.force_login(cast.alpha["analyst"])

    assert client.get("/reports/").status_code == 403
    assert client.get(f"/reports/{built.pk}/").status_code == 403


def test_regulators_ask_for_a_report_in_the_portal_and_follow_it(cast, client):
    regulator = cast.regulator["regulator_staff"]
    client.force_login(regulator)

    asked = client.post("/reports/", {"starts_on": "2026-07-01", "ends_on": "2026-09-30"})

    report = Report.objects.get()
    assert asked.status_code == 302
    assert asked["Location"] == f"/reports/{report.pk}/"
    assert (report.starts_on, report.ends_on, report.trigger, report.requested_by) == (
        date(2026, 7, 1),
        date(2026, 9, 30),
        "requested",
        regulator,
    )
    assert AuditEvent.objects.filter(action=AuditAction.REPORT_REQUEST, target_id=str(report.pk)).exists()
    page = client.get(asked["Location"])
    assert 'id="job-progress"' in page.text  # queued: the page follows the build
    assert f'data-api="/api/v1/reports/{report.pk}"' in page.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"starts_on": "2026-10-31", "ends_on": "2026-10-01"}, "期间的结束日期早于开始日期。"),
        ({"starts_on": "2026-10-01", "ends_on": "2099-01-01"}, "期间的结束日期不能晚于今天。"),
        ({"starts_on": "2016-01-01", "ends_on": "2026-01-01"}, "一份报表最多覆盖 1830 天。"),
    ],
)
def test_a_bad_period_in_the_portal_is_shown_on_the_form(cast, client, body, message):
    client.force_login(cast.regulator["regulator_staff"])

    page = client.post("/reports/", body)

    assert page.status_code == 200
    assert message in page.text
    assert not Report.objects.exists()


def test_members_cannot_ask_for_reports_in_the_portal(cast, client):
    client.force_login(cast.alpha["institution_admin"])

    assert client.post("/reports/", {"starts_on": "2026-10-01", "ends_on": "2026-10-31"}).status_code == 403
    assert not Report.objects.exists()


def test_a_failed_report_says_so_in_the_portal(cast, client):
    failed = Report.objects.create(
        starts_on=date(2026, 10, 1),
        ends_on=date(2026, 10, 31),
        trigger="requested",
        status="failed",
        steps_total=4,
        error="The report could not be built.",
    )
    client.force_login(cast.regulator["regulator_staff"])

    page = client.get(f"/reports/{failed.pk}/")

    assert "报表未能生成" in page.text
    assert "This report has not been built yet." not in page.text
    assert 'id="job-progress"' not in page.text  # nothing left to follow
    title = page.text.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<" not in title
