"""The member kit refuses labels that hold a borrower's identifier before anything is sent.

``upload`` and ``inspect`` read the whole file first and stop, naming rows and never values, if a
reference or a correlation id (or the file's or the portfolio's name) is, or holds, a resident
identity number, a mobile number or an individual business's credit code; ``query`` refuses such
rows and sends the others. The platforms are the fakes of the other client tests, which record
every request: no Django, no database.
"""

import csv
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings

from memberkit import cli, scanning, session
from tests.memberkit import test_client_query, test_client_upload
from tests.memberkit.test_labels import full_width, label_holding

TOKEN = "ab" * 32
HEADER = "reference,id_type,token,category,event_date,notice_date,notice_channel\r\n"


def row(reference: str) -> str:
    return f"{reference},cnid,{TOKEN},overdue_90,2024-01-05,2023-12-20,sms\r\n"


@pytest.fixture(autouse=True)
def key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(session.KEY_VARIABLE, test_client_upload.API_KEY)


@pytest.fixture
def jobs() -> Iterator[test_client_upload.FakePlatform]:
    """The upload contract's fake; ``inspect`` posts to it too, and nothing may reach it."""
    with test_client_upload.serving(test_client_upload.FakePlatform()) as fake:
        yield fake


@pytest.fixture
def queries() -> Iterator[test_client_query.FakePlatform]:
    with test_client_query.serving(test_client_query.FakePlatform()) as fake:
        yield fake


def test_upload_refuses_a_file_whose_references_hold_identifiers_and_sends_nothing(jobs, tmp_path, naps, capsys):
    file = tmp_path / "flags.csv"
    file.write_text(HEADER + row("L0001") + row("13800138000") + row("L0003") + row("CASE/110105-19491231-002x"))

    code = cli.main(["upload", str(file), "--url", jobs.url, "--quiet"])

    err = capsys.readouterr().err
    assert code == 2
    assert jobs.requests == []
    assert "2 rows have a reference that is, or holds" in err
    assert "(rows 3, 5; identifier_in_label)" in err
    assert "Nothing was sent." in err
    assert "13800138000" not in err
    assert "19491231" not in err


def test_upload_reads_json_lines_and_numbers_as_the_platform_does(jobs, tmp_path, naps, capsys):
    file = tmp_path / "flags.jsonl"
    lines = [{"reference": "L-1"}, {"reference": 13800138000}, {"reference": full_width("LN-13800138000")}]
    file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines) + "\n[1]\n{bad\n")

    code = cli.main(["upload", str(file), "--url", jobs.url, "--quiet"])

    assert code == 2
    assert jobs.requests == []
    assert "(rows 2, 3; identifier_in_label)" in capsys.readouterr().err


def test_upload_refuses_a_file_named_after_an_identifier(jobs, tmp_path, naps, capsys):
    file = tmp_path / "客户13800138000.csv"
    file.write_text(HEADER + row("L0001"))

    code = cli.main(["upload", str(file), "--url", jobs.url, "--quiet"])

    err = capsys.readouterr().err
    assert code == 2
    assert jobs.requests == []
    assert "the file's name is, or holds" in err
    assert "13800138000" not in err


def test_a_file_of_record_numbers_is_uploaded(jobs, tmp_path, naps, capsys):
    file = tmp_path / "flags.csv"
    file.write_text(HEADER + row("LN13800138000") + row("LN-2026-000123") + row("20260115000123"))

    code = cli.main(["upload", str(file), "--url", jobs.url, "--quiet"])

    assert code == 0, capsys.readouterr().err
    assert len(jobs.posts()) == 1


def inspect(platform_url: str, file: Path, portfolio: str = "consumer-2026") -> int:
    arguments = ["inspect", str(file), "--url", platform_url, "--portfolio", portfolio, "--purpose", "collection"]
    return cli.main([*arguments, "--quiet"])


def test_inspect_refuses_correlation_ids_and_a_portfolio_that_hold_identifiers(jobs, tmp_path, naps, capsys):
    file = tmp_path / "book.csv"
    file.write_text(f"correlation_id,id_type,token\nL-1,cnid,{TOKEN}\n客户 +86 138 0013 8000,cnid,{TOKEN}\n")
    clean = tmp_path / "clean.csv"
    clean.write_text(f"correlation_id,id_type,token\nL-1,cnid,{TOKEN}\n")

    rows = inspect(jobs.url, file)
    rows_err = capsys.readouterr().err
    named = inspect(jobs.url, clean, portfolio="借款人13800138000")
    named_err = capsys.readouterr().err

    assert (rows, named) == (2, 2)
    assert jobs.requests == []
    assert "1 rows have a correlation_id that is, or holds" in rows_err
    assert "(rows 3; identifier_in_label)" in rows_err
    assert "the portfolio's name is, or holds" in named_err
    assert "13800138000" not in rows_err + named_err


def test_query_refuses_rows_whose_correlation_ids_hold_identifiers_and_sends_the_others(queries, tmp_path, naps):
    file = tmp_path / "subjects.csv"
    subjects = [("C-0", 0), ("13800138000", 1), ("C-2", 2), ("110105 19491231 002X", 3)]
    with file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["correlation_id", "id_type", "token"])
        writer.writerows([correlation_id, "cnid", test_client_query.token(n)] for correlation_id, n in subjects)

    code = test_client_query.query(queries, file)

    assert code == 1
    assert [[s["correlation_id"] for s in seen.body["subjects"]] for seen in queries.requests] == [["C-0", "C-2"]]
    errors = test_client_query.read_csv(tmp_path / "subjects.csv.results.csv.errors.csv")
    assert errors == [
        ["row", "field", "reason"],
        ["2", "correlation_id", "identifier_in_label"],
        ["4", "correlation_id", "identifier_in_label"],
    ]


def test_query_refuses_a_consent_reference_that_holds_an_identifier_before_anything_is_sent(
    queries, tmp_path, naps, capsys
):
    file = test_client_query.write_subjects(tmp_path / "subjects.csv", 3)

    code = test_client_query.query(queries, file, "--consent-reference", "授权书 13800138000")

    err = capsys.readouterr().err
    assert code == 2
    assert queries.requests == []
    assert "the consent reference is, or holds" in err
    assert "13800138000" not in err


@given(label_holding(most=64))
@settings(max_examples=100, deadline=None)
def test_every_row_holding_an_identifier_is_found_in_csv_and_json_lines(label):
    with tempfile.TemporaryDirectory() as directory:
        as_csv, as_jsonl = Path(directory) / "f.csv", Path(directory) / "f.jsonl"
        with as_csv.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([["correlation_id", "token"], ["L-1", TOKEN], [label, TOKEN], ["L-3", TOKEN]])
        as_jsonl.write_text(
            "\n".join(json.dumps({"correlation_id": value}) for value in ("L-1", label, "L-3")) + "\n", encoding="utf-8"
        )

        assert scanning.rows_with_identifiers(as_csv, "csv", "correlation_id") == [3]
        assert scanning.rows_with_identifiers(as_jsonl, "jsonl", "correlation_id") == [2]
