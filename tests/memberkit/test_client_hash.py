"""``python -m memberkit hash``: tokens out, raw identifiers never, refusals reported by row."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memberkit import hashing
from memberkit.identifiers import InvalidIdentifier, member_token

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes(range(32))
VALID = ["11010519491231002X", "110105491231002", "440301199003072313"]
INVALID = ["110105194912310021", "12345", "11010519491331002X"]


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def run_client(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "memberkit", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "consortium.key"
    path.write_text(KEY.hex() + "\n")
    return path


def test_hash_replaces_identifiers_and_reports_refused_rows(tmp_path, key_file):
    source = tmp_path / "portfolio.csv"
    write_csv(
        source,
        [
            ["loan", "id_number", "phone", "amount"],
            ["L1", "11010519491231002X", "138 0013 8000", "100"],
            ["L2", "110105194912310021", "13800138000", "200"],  # wrong check character
            ["L3", "110105491231002", "", "300"],  # legacy form, no phone
            ["L4", "11010519491231002X", "+86 2012345678", "400"],  # a landline
        ],
    )
    mapping = hashing.Mapping.parse(["id_number=cnid", "phone=mobile"])

    outcome = hashing.hash_file(
        source, tmp_path / "out.csv", tmp_path / "errors.csv", mapping, KEY, workers=1, progress=False
    )

    assert (outcome.rows, outcome.written, outcome.refused) == (4, 2, 2)
    token = member_token("cnid", "11010519491231002X", KEY)
    assert read_csv(tmp_path / "out.csv") == [
        ["loan", "id_number", "phone", "amount"],
        ["L1", token, member_token("mobile", "13800138000", KEY), "100"],
        ["L3", token, "", "300"],
    ]
    assert read_csv(tmp_path / "errors.csv") == [
        ["row", "column", "reason"],
        ["2", "id_number", "bad_checksum"],
        ["4", "phone", "not_mobile"],
    ]
    written = (tmp_path / "out.csv").read_text() + (tmp_path / "errors.csv").read_text()
    for raw in ("11010519491231002X", "110105194912310021", "13800138000", "2012345678"):
        assert raw not in written


def test_jsonl_rows_keep_their_other_fields(tmp_path):
    source = tmp_path / "portfolio.jsonl"
    source.write_text(
        json.dumps({"loan": "L1", "cnid": "11010519491231002x", "note": "首贷"}, ensure_ascii=False)
        + "\n\n"
        + json.dumps({"loan": "L2", "cnid": "bad"})
        + "\n",
        encoding="utf-8",
    )

    outcome = hashing.hash_file(
        source,
        tmp_path / "out.jsonl",
        tmp_path / "err.csv",
        hashing.Mapping.parse(["cnid=cnid"]),
        KEY,
        progress=False,
    )

    assert (outcome.written, outcome.refused) == (1, 1)
    [row] = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert row == {"loan": "L1", "cnid": member_token("cnid", "11010519491231002X", KEY), "note": "首贷"}


def test_every_core_writes_exactly_what_one_worker_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(hashing, "CHUNK_ROWS", 7)  # many chunks, so order across workers matters
    rows = [["loan", "id"]] + [[f"L{i}", (VALID + INVALID)[i % 6]] for i in range(100)]
    write_csv(tmp_path / "in.csv", rows)
    mapping = hashing.Mapping.parse(["id=cnid"])

    for workers in (1, 2):
        hashing.hash_file(
            tmp_path / "in.csv",
            tmp_path / f"out{workers}.csv",
            tmp_path / f"err{workers}.csv",
            mapping,
            KEY,
            workers=workers,
            progress=False,
        )

    assert (tmp_path / "out1.csv").read_text() == (tmp_path / "out2.csv").read_text()
    assert (tmp_path / "err1.csv").read_text() == (tmp_path / "err2.csv").read_text()
    assert [row[0] for row in read_csv(tmp_path / "out1.csv")[1:]] == [f"L{i}" for i in range(100) if i % 6 < 3]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(VALID + INVALID), st.text(max_size=20)), max_size=30))
def test_no_row_is_lost_and_no_raw_value_of_a_refused_row_is_written(tmp_path, values):
    source = tmp_path / "any.csv"
    write_csv(source, [["id"]] + [[value] for value in values])
    # csv may read a lone empty field as an empty row; count what the reader sees.
    expected = len(read_csv(source)) - 1

    outcome = hashing.hash_file(
        source, tmp_path / "o.csv", tmp_path / "e.csv", hashing.Mapping.parse(["id=cnid"]), KEY, progress=False
    )

    assert outcome.rows == expected
    assert outcome.written + outcome.refused == outcome.rows
    out = (tmp_path / "o.csv").read_text(encoding="utf-8")
    for row in read_csv(source)[1:]:
        if row and row[0].strip() and len(row[0]) > 3:
            assert row[0] not in out.split("\n", 1)[-1]


def test_command_line_prints_a_summary_and_a_progress_bar(tmp_path, key_file):
    write_csv(tmp_path / "in.csv", [["id"], ["11010519491231002X"], ["bad"]])

    result = run_client(
        "hash",
        str(tmp_path / "in.csv"),
        str(tmp_path / "out.csv"),
        "--key-file",
        str(key_file),
        "--column",
        "id=cnid",
        "--workers",
        "1",
    )

    assert result.returncode == 1  # some rows were refused
    assert "2 rows: 1 written" in result.stdout
    assert "100.0%" in result.stderr
    assert (tmp_path / "out.csv.errors.csv").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--column", "nope=cnid"], "no column nope"),
        (["--column", "id=email"], "COLUMN=TYPE"),
        ([], "no column identifier: name each identifier column"),
    ],
)
def test_command_line_refuses_bad_mappings_clearly(tmp_path, key_file, arguments, message):
    write_csv(tmp_path / "in.csv", [["id"], ["11010519491231002X"]])

    result = run_client(
        "hash", str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), "--key-file", str(key_file), *arguments
    )

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_key_file_of_the_wrong_size_is_refused(tmp_path):
    (tmp_path / "short.key").write_text("00" * 16)

    with pytest.raises(ValueError, match="16 bytes, not 32"):
        hashing.load_key(tmp_path / "short.key")


def reference_rows(rows, place, first_number):
    """What token_rows must give, written the plain way: one row at a time, with member_token."""
    good, refused = [], []
    for number, row in enumerate(rows, start=first_number):
        if len(row) <= place:
            refused.append((number, "id", "missing_field"))
        elif not row[place]:
            good.append(row)
        else:
            try:
                good.append([*row[:place], member_token("cnid", row[place], KEY), *row[place + 1 :]])
            except InvalidIdentifier as error:
                refused.append((number, "id", error.reason))
    return good, refused


cells = st.one_of(st.sampled_from(VALID + INVALID + ["", "11010519491231002x"]), st.text(max_size=20))


@given(st.lists(st.lists(cells, min_size=0, max_size=3), max_size=40), st.integers(0, 2), st.integers(1, 10_000))
def test_token_rows_gives_what_one_row_at_a_time_gives(rows, place, first_number):
    expected = reference_rows([list(row) for row in rows], place, first_number)

    result = hashing.token_rows(
        [list(row) for row in rows], first_number, [(place, "id", "cnid")], hashing.Tokenizer(KEY)
    )

    assert result == expected


@given(st.lists(st.lists(st.text(max_size=8), max_size=4), max_size=20))
def test_rows_are_written_exactly_as_csv_writes_them(rows):
    expected, fast = io.StringIO(), io.StringIO()
    csv.writer(expected).writerows(rows)

    hashing.csv_rows_writer(fast, csv.writer(fast))(rows)

    assert fast.getvalue() == expected.getvalue()


@given(st.lists(st.lists(st.sampled_from(["", "a", "b1", "x y", "中文"]), min_size=1, max_size=4), max_size=20))
def test_plain_rows_are_written_exactly_as_csv_writes_them(rows):
    expected, fast = io.StringIO(), io.StringIO()
    csv.writer(expected).writerows(rows)

    hashing.csv_rows_writer(fast, csv.writer(fast))(rows)

    assert fast.getvalue() == expected.getvalue()
