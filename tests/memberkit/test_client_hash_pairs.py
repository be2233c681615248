"""``hash`` for a borrower known by several identifiers: out come the platform's columns
``id_type``/``token`` ... ``id_type_5``/``token_5``; two of one type or more than five refuse the row."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memberkit import hashing, pairs
from memberkit.identifiers import TYPES, InvalidIdentifier, member_token
from memberkit.vocabulary import IDENTIFIERS_MAX
from tests.memberkit.test_client_hash import read_csv, run_client, write_csv
from tests.memberkit.test_identifiers import VECTORS, vectors

KEY = bytes(range(32))
RAW = ["11010519491231002X", "13800138000", "91110000600037341L", "CHN:E12345678"]


def documented_key() -> bytes:
    found = re.search(r"Test key: `([0-9a-f]{64})`", VECTORS.read_text(encoding="utf-8"))
    assert found is not None
    return bytes.fromhex(found.group(1))


def hashed(source: Path, tmp_path: Path, columns: list[str] | None = None, key: bytes = KEY, workers: int = 1):
    target = tmp_path / ("out" + source.suffix)
    errors = tmp_path / "errors.csv"
    mapping = hashing.Mapping.parse(columns or [], to_pairs=True)
    outcome = hashing.hash_file(source, target, errors, mapping, key, workers=workers, progress=False)
    return outcome, target, read_csv(errors)


def test_the_documented_vectors_come_out_as_the_platforms_columns(tmp_path):
    """One row per vector of each type, each row holding a vector of every type: the documented tokens, in order."""
    key = documented_key()
    by_type: dict[str, list[tuple[str, str | None, str | None]]] = {id_type: [] for id_type in TYPES}
    for id_type, raw, _, refusal, token in vectors():
        if id_type in by_type:
            by_type[id_type].append((raw, refusal, token))
    rows = max(len(listed) for listed in by_type.values())
    order = ["passport", "mobile", "cnid", "uscc"]  # any order: the first given goes to id_type/token
    header = ["reference"] + [name for n in range(1, 5) for name in pairs_header(n)] + ["amount"]
    cells = []
    expected_out, expected_errors = [], []
    for number in range(rows):
        given = [(id_type, *by_type[id_type][number % len(by_type[id_type])]) for id_type in order]
        cells.append([f"R{number}", *[value for id_type, raw, _, _ in given for value in (id_type, raw)], "9"])
        refused = next(((n, refusal) for n, (_, _, refusal, _) in enumerate(given, 1) if refusal), None)
        if refused:
            n, refusal = refused
            expected_errors.append([str(number + 1), "identifier" if n == 1 else f"identifier_{n}", refusal])
        else:
            expected_out.append([f"R{number}", *[v for id_type, _, _, token in given for v in (id_type, token)], "9"])
    write_csv(tmp_path / "raw.csv", [header, *cells])

    outcome, target, errors = hashed(tmp_path / "raw.csv", tmp_path, key=key)

    assert read_csv(target) == [
        [
            "reference",
            "id_type",
            "token",
            "id_type_2",
            "token_2",
            "id_type_3",
            "token_3",
            "id_type_4",
            "token_4",
            "amount",
        ],
        *expected_out,
    ]
    assert errors == [["row", "column", "reason"], *expected_errors]
    assert (outcome.written, outcome.refused) == (len(expected_out), len(expected_errors))
    assert expected_out
    assert expected_errors


def pairs_header(n: int) -> list[str]:
    return ["id_type", "identifier"] if n == 1 else [f"id_type_{n}", f"identifier_{n}"]


def test_two_of_one_type_more_than_five_and_a_missing_type_are_refused_by_row(tmp_path):
    header = [name for n in range(1, 7) for name in pairs_header(n)]
    write_csv(
        tmp_path / "raw.csv",
        [
            ["ref", *header],
            ["A", "cnid", RAW[0], "mobile", RAW[1], *[""] * 8],
            ["B", "mobile", RAW[1], "mobile", "13900139000", *[""] * 8],  # two mobiles
            ["C", *[cell for n in range(6) for cell in ("cnid", RAW[0])]],  # six identifiers
            ["D", "cnid", RAW[0], "", RAW[1], *[""] * 8],  # an identifier without its type
            ["E", "cnid", RAW[0], "email", "a@b.example", *[""] * 8],
            ["F", "", "", "", "", "mobile", RAW[1], *[""] * 6],  # the third pair alone: written first
            ["G", "cnid", "", "mobile", RAW[1], *[""] * 8],  # a type without an identifier: no identifier
        ],
    )

    outcome, target, errors = hashed(tmp_path / "raw.csv", tmp_path)

    cnid, mobile = member_token("cnid", RAW[0], KEY), member_token("mobile", RAW[1], KEY)
    assert read_csv(target) == [
        ["ref", *[name for pair in pairs.PAIRS for name in pair]],
        ["A", "cnid", cnid, "mobile", mobile, *[""] * 6],
        ["F", "mobile", mobile, *[""] * 8],
        ["G", "mobile", mobile, *[""] * 8],
    ]
    assert errors == [
        ["row", "column", "reason"],
        ["2", "id_type_2", "duplicate_id_type"],
        ["3", "identifier_6", "too_many_identifiers"],
        ["4", "id_type_2", "required"],
        ["5", "id_type_2", "unknown_type"],
    ]
    written = target.read_text() + (tmp_path / "errors.csv").read_text()
    for raw in (*RAW, "13900139000", "a@b.example"):
        assert raw not in written
    assert (outcome.rows, outcome.written, outcome.refused) == (7, 3, 4)


def test_one_column_per_type_with_pairs_packs_the_identifiers_a_row_has(tmp_path):
    write_csv(
        tmp_path / "book.csv",
        [
            ["loan_ref", "borrower_id", "amount", "mobile", "passport"],
            ["L1", RAW[0], "100", "138-0013-8000", "chn:e12345678"],
            ["L2", "", "200", RAW[1], ""],
            ["L3", RAW[0], "300", "+86 2012345678", ""],  # a landline
        ],
    )

    _, target, errors = hashed(
        tmp_path / "book.csv", tmp_path, ["borrower_id=cnid", "mobile=mobile", "passport=passport"], workers=2
    )

    cnid, mobile = member_token("cnid", RAW[0], KEY), member_token("mobile", RAW[1], KEY)
    passport = member_token("passport", RAW[3], KEY)
    assert read_csv(target) == [
        ["loan_ref", "id_type", "token", "id_type_2", "token_2", "id_type_3", "token_3", "amount"],
        ["L1", "cnid", cnid, "mobile", mobile, "passport", passport, "100"],
        ["L2", "mobile", mobile, "", "", "", "", "200"],
    ]
    assert errors == [["row", "column", "reason"], ["3", "mobile", "not_mobile"]]


def test_two_columns_of_one_type_are_refused_only_where_a_row_fills_both(tmp_path):
    write_csv(tmp_path / "book.csv", [["ref", "phone", "phone2"], ["L1", RAW[1], ""], ["L2", RAW[1], "13900139000"]])

    _, target, errors = hashed(tmp_path / "book.csv", tmp_path, ["phone=mobile", "phone2=mobile"])

    assert read_csv(target)[1] == ["L1", "mobile", member_token("mobile", RAW[1], KEY), "", ""]
    assert errors[1:] == [["2", "phone2", "duplicate_id_type"]]


def test_json_lines_rows_name_their_pairs_as_keys(tmp_path):
    source = tmp_path / "raw.jsonl"
    rows = [
        {"ref": "A", "id_type": "cnid", "identifier": RAW[0], "id_type_2": "mobile", "identifier_2": 13800138000},
        {"ref": "B", "id_type": "cnid"},  # no identifier key: refused, never passed through
        {"ref": "C", "cnid": RAW[0]},  # raw identifiers under another name
        {"ref": "D", "id_type_2": "uscc", "identifier_2": RAW[2], "id_type": "mobile", "identifier": RAW[1]},
    ]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))

    _, target, errors = hashed(source, tmp_path)

    lines = [json.loads(line) for line in target.read_text().splitlines()]
    cnid, mobile = member_token("cnid", RAW[0], KEY), member_token("mobile", RAW[1], KEY)
    assert lines == [
        {"ref": "A", "id_type": "cnid", "token": cnid, "id_type_2": "mobile", "token_2": mobile},
        {
            "ref": "D",
            "id_type": "mobile",
            "token": mobile,
            "id_type_2": "uscc",
            "token_2": member_token("uscc", RAW[2], KEY),
        },
    ]
    assert errors[1:] == [["2", "identifier", "missing_field"], ["3", "identifier", "missing_field"]]


@pytest.mark.parametrize(
    ("header", "arguments", "message"),
    [
        (["ref", "cnid"], [], "--column COLUMN=TYPE, or give the file the columns id_type and identifier"),
        (["ref", "id_type", "identifier", "identifier_2"], [], "identifier_2 but no id_type_2"),
        (["ref", "id_type", "identifier", "token"], [], "a column token already"),
        (["ref", "id_type", "cnid"], ["--column", "cnid=cnid", "--pairs"], "a column id_type already"),
    ],
)
def test_a_file_that_cannot_be_laid_out_is_refused_before_any_row(tmp_path, header, arguments, message):
    write_csv(tmp_path / "in.csv", [header, ["R1", *["cnid"] * (len(header) - 1)]])
    (tmp_path / "k").write_text(KEY.hex())

    result = run_client(
        "hash", str(tmp_path / "in.csv"), str(tmp_path / "o.csv"), "--key-file", str(tmp_path / "k"), *arguments
    )

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def reference(row: list[str], key: bytes) -> list[str] | str:
    """What ``hash`` must make of a row of six typed pairs, written the plain way: the cells, or the reason."""
    given = [(row[2 * n], row[2 * n + 1], n + 1) for n in range(6) if row[2 * n + 1] != ""]
    if len(given) > IDENTIFIERS_MAX:
        return "too_many_identifiers"
    out: list[str] = []
    for id_type, raw, _ in given:
        if id_type == "":
            return "required"
        if id_type.strip() not in TYPES:
            return "unknown_type"
        if id_type.strip() in out[::2]:
            return "duplicate_id_type"
        try:
            out += [id_type.strip(), member_token(id_type.strip(), raw, key)]
        except InvalidIdentifier as error:
            return error.reason
    return out + [""] * (2 * IDENTIFIERS_MAX - len(out))


types = st.sampled_from([*TYPES, "", "email", " cnid"])
values = st.one_of(st.sampled_from(["", *RAW, "13900139000", "110105194912310021"]), st.text(max_size=12))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.tuples(types, values), min_size=6, max_size=6), max_size=12))
def test_every_row_comes_out_as_one_row_at_a_time_would_and_no_raw_value_is_written(tmp_path, drawn):
    rows = [[cell for pair in row for cell in pair] for row in drawn]
    header = [name for n in range(1, 7) for name in pairs_header(n)]
    write_csv(tmp_path / "any.csv", [header, *rows])
    read_back = read_csv(tmp_path / "any.csv")[1:]  # what csv reads of what it wrote

    outcome, target, errors = hashed(tmp_path / "any.csv", tmp_path)

    expected = [reference(row, KEY) for row in read_back]
    assert read_csv(target)[1:] == [cells for cells in expected if isinstance(cells, list)]
    assert [line[2] for line in errors[1:]] == [reason for reason in expected if isinstance(reason, str)]
    assert outcome.rows == len(read_back) == outcome.written + outcome.refused
    body = target.read_text(encoding="utf-8").split("\n", 1)[-1]
    for row in read_back:
        for raw in row[1::2]:
            if len(raw) > 3 and raw not in TYPES:
                assert raw not in body
