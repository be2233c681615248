"""``python -m memberkit query``: batches of 100, answers written as they come, refusals, 429s, resumption.

The platform is played by ``FakePlatform``: the contract of ``QueryView`` (the
request's checks, answers in request order, problem documents, the daily quota
and the per-minute rate as 429s with their codes) in memory, on a real socket in
a thread. No Django and no database, so the suite stays fast.
"""

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from memberkit import cli, querying, session, vocabulary
from tests.memberkit.serving import JsonHandler, problem, serve
from tests.memberkit.test_identifiers import without_django

API_KEY = "rsk_live_Qx7.s3cr3t-value"
URL_PATH = "/api/v1/queries"
TYPES = ("cnid", "mobile", "uscc", "passport")
TOKEN = re.compile(r"[0-9a-f]{64}")


def token(n: int) -> str:
    return hashlib.sha256(f"borrower-{n}".encode()).hexdigest()


# What other members and the caller have flagged, by token: (categories, own).
OTHERS_90 = {"category": "overdue_90", "institutions": 2, "latest_event_month": "2026-03", "disputed": False}
THEFT = {"category": "identity_theft", "institutions": 1, "latest_event_month": "2026-04", "disputed": True}
OWN_90 = {"category": "overdue_90", "flags": 1, "latest_event_month": "2026-06", "disputed": False, "resolved": False}
FLAGGED: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    token(1): ([{**OTHERS_90, "resolved": True}, {**THEFT, "resolved": False}], []),
    token(2): ([], [OWN_90]),
}
# The multi-lender figures of a subject by its first token; every other subject's are zeros.
NONE = dict.fromkeys(vocabulary.LENDING_FIGURES, 0) | {"open_amount_band": ""}
BORROWING = NONE | {
    "institutions_queried_7d": 2,
    "institutions_queried_30d": 3,
    "institutions_queried_90d": 4,
    "institutions_with_open_loans": 2,
    "loans_opened_90d": 1,
    "loans_opened_180d": 2,
    "open_amount_band": "50k_200k",
    "own_open_loans": 1,
}
LENDING = {token(3): BORROWING}
NO_LOANS_NOTE = {
    "code": "no_loan_contributions",
    "message": "Your institution has reported no loans in the last 90 days: multi-lender figures need them.",
}


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Scripted:
    """An answer given instead of the contract's, to the next query."""

    status: int
    code: str
    detail: str = "Try again later."
    headers: dict[str, str] = field(default_factory=dict)
    errors: list[dict[str, str]] | None = None


@dataclass
class FakePlatform:
    """``POST /api/v1/queries`` in memory: the request checked as the platform checks it, answered in order."""

    url: str = ""
    quota: int | None = None  # subjects a day; the query that passes it is refused whole
    reported_loans: bool = True  # otherwise answers have no figures, and say why (lending_note)
    requests: list[Seen] = field(default_factory=list)
    script: list[Scripted] = field(default_factory=list)
    answered: list[dict[str, Any]] = field(default_factory=list)  # the bodies of the queries answered
    charged: int = 0

    def query(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        errors = []
        if body.get("purpose") not in vocabulary.PURPOSES:
            errors.append(("purpose", "invalid_choice"))
        subjects = body.get("subjects")
        if not isinstance(subjects, list) or not 1 <= len(subjects) <= 100:
            errors.append(("subjects", "min_length" if not subjects else "max_length"))
            subjects = []
        for n, subject in enumerate(subjects):
            correlation_id = subject.get("correlation_id")
            if not isinstance(correlation_id, str) or not correlation_id.strip() or len(correlation_id) > 64:
                errors.append((f"subjects[{n}].correlation_id", "invalid"))
            if subject.get("id_type") not in TYPES:
                errors.append((f"subjects[{n}].id_type", "invalid_choice"))
            if not TOKEN.fullmatch(str(subject.get("token"))):
                errors.append((f"subjects[{n}].token", "bad_token"))
            types = [subject.get("id_type")]
            for type_field, token_field in vocabulary.NUMBERED_COLUMNS:
                if type_field in subject or token_field in subject:
                    if subject.get(type_field) not in TYPES or subject.get(type_field) in types:
                        errors.append((f"subjects[{n}].{type_field}", "invalid"))
                    if not TOKEN.fullmatch(str(subject.get(token_field))):
                        errors.append((f"subjects[{n}].{token_field}", "bad_token"))
                    types.append(subject.get(type_field))
        if errors:
            return problem(400, "validation_error", "Invalid request.", [(f, c, "Invalid.") for f, c in errors])
        consent = str(body.get("consent_reference", "")).strip()
        if body["purpose"] in ("loan_application", "credit_review") and not consent:
            return problem(400, "validation_error", "Invalid.", [("consent_reference", "consent_required", "")])
        if self.quota is not None and self.charged + len(subjects) > self.quota:
            detail = "The daily quota of 150 subjects is used up. Expected available in 36000 seconds."
            return problem(429, "quota_exceeded", detail, headers={"Retry-After": "36000"})
        self.charged += len(subjects)
        self.answered.append(body)
        answers = []
        for subject in subjects:
            categories, own = FLAGGED.get(subject["token"], ([], []))
            answers.append(
                {
                    "correlation_id": subject["correlation_id"],
                    "hit": bool(categories),
                    "categories": categories,
                    "own": own,
                    "lending": LENDING.get(subject["token"], NONE) if self.reported_loans else None,
                }
            )
        answer = {"purpose": body["purpose"], "subjects": answers, "hits": sum(a["hit"] for a in answers)}
        return 200, answer | {"lending_note": None if self.reported_loans else NO_LOANS_NOTE}, {}


def handler_for(platform: FakePlatform) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(data)
            platform.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if self.headers.get("Authorization") != f"Api-Key {API_KEY}":
                self.answer(*problem(401, "not_authenticated", "Invalid API key."))
            elif self.path != URL_PATH or self.headers.get("Content-Type") != "application/json":
                self.answer(*problem(404, "not_found", "Not found."))
            elif platform.script:
                scripted = platform.script.pop(0)
                errors = scripted.errors
                listed = None if errors is None else [(e["field"], e["code"], e["message"]) for e in errors]
                self.answer(*problem(scripted.status, scripted.code, scripted.detail, listed, scripted.headers))
            else:
                self.answer(*platform.query(body))

    return Handler


def serving(fake: FakePlatform) -> AbstractContextManager[FakePlatform]:
    return serve(fake, handler_for(fake))


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    with serving(FakePlatform()) as fake:
        yield fake


@pytest.fixture(autouse=True)
def key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(session.KEY_VARIABLE, API_KEY)


def write_subjects(path: Path, count: int, start: int = 0) -> Path:
    """``count`` rows as ``hash`` leaves them, with a column the command ignores."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["correlation_id", "id_type", "token", "amount"])
        writer.writerows([f"C-{n}", "cnid", token(n), str(n * 100)] for n in range(start, start + count))
    return path


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.reader(file))


def query(platform: FakePlatform, file: Path, *arguments: str) -> int:
    return cli.main(["query", str(file), "--url", platform.url, "--purpose", "post_loan_review", "--quiet", *arguments])


def subject(n: int) -> dict[str, str]:
    return {"correlation_id": f"C-{n}", "id_type": "cnid", "token": token(n)}


def test_sends_the_subjects_in_batches_of_a_hundred_with_exact_bodies(platform, tmp_path, naps, capsys):
    file = write_subjects(tmp_path / "portfolio.csv", 250)

    exit_code = query(platform, file)

    out, err = capsys.readouterr()
    assert exit_code == 0, err
    assert [seen.body for seen in platform.requests] == [
        {"purpose": "post_loan_review", "subjects": [subject(n) for n in range(100)]},
        {"purpose": "post_loan_review", "subjects": [subject(n) for n in range(100, 200)]},
        {"purpose": "post_loan_review", "subjects": [subject(n) for n in range(200, 250)]},
    ]
    assert {seen.path for seen in platform.requests} == {"/api/v1/queries"}
    results = tmp_path / "portfolio.csv.results.csv"
    assert out == f"250 rows: 250 answered (1 hit), 0 refused: results in {results}\n"
    assert len(read_csv(results)) == 251
    assert read_csv(tmp_path / "portfolio.csv.results.csv.errors.csv") == [["row", "field", "reason"]]
    assert naps == []


def test_the_results_csv_has_one_line_per_subject_in_the_files_order(platform, tmp_path, naps):
    file = write_subjects(tmp_path / "portfolio.csv", 4)

    assert query(platform, file, "--output", str(tmp_path / "answers.csv")) == 0

    zeros = ["0"] * 6 + [""] + ["0"] * 3
    assert read_csv(tmp_path / "answers.csv") == [
        [
            *["correlation_id", "hit", "categories", "latest_event_month", "disputed", "resolved", "own"],
            *vocabulary.LENDING_FIGURES,
        ],
        ["C-0", "false", "", "", "false", "false", "", *zeros],
        ["C-1", "true", "overdue_90:2;identity_theft:1", "2026-04", "true", "true", "", *zeros],
        ["C-2", "false", "", "", "false", "false", "overdue_90:1", *zeros],
        ["C-3", "false", "", "", "false", "false", "", "2", "3", "4", "2", "1", "2", "50k_200k", "0", "1", "0"],
    ]


def test_jsonl_output_holds_each_answer_as_the_platform_gave_it(platform, tmp_path, naps):
    file = write_subjects(tmp_path / "portfolio.csv", 3)
    output = tmp_path / "answers.jsonl"

    assert query(platform, file, "--output", str(output)) == 0

    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert lines == [
        {"correlation_id": "C-0", "hit": False, "categories": [], "own": [], "lending": NONE},
        {"correlation_id": "C-1", "hit": True, "categories": FLAGGED[token(1)][0], "own": [], "lending": NONE},
        {"correlation_id": "C-2", "hit": False, "categories": [], "own": [OWN_90], "lending": NONE},
    ]


def test_reads_hash_output_with_named_columns_and_one_type_for_every_row(platform, tmp_path, naps):
    file = tmp_path / "portfolio.tokens.jsonl"
    rows = [{"loan_ref": "L0001", "borrower_id": token(1), "amount": 120000}, {"loan_ref": 3, "borrower_id": token(3)}]
    file.write_text("".join(json.dumps(row) + "\n" for row in rows) + "\n", encoding="utf-8")

    arguments = ("--correlation-column", "loan_ref", "--token-column", "borrower_id", "--id-type", "mobile")
    assert query(platform, file, *arguments) == 0

    assert platform.requests[0].body["subjects"] == [
        {"correlation_id": "L0001", "id_type": "mobile", "token": token(1)},
        {"correlation_id": "3", "id_type": "mobile", "token": token(3)},
    ]
    assert read_csv(tmp_path / "portfolio.tokens.jsonl.results.csv")[1][:2] == ["L0001", "true"]


def test_rows_that_cannot_be_sent_are_refused_here_by_row_and_exit_1(platform, tmp_path, naps, capsys):
    raw_identifier = "11010519491231002X"
    file = tmp_path / "portfolio.csv"
    file.write_text(
        "correlation_id,id_type,token\n"
        f"C-0,cnid,{token(0)}\n"
        f",cnid,{token(1)}\n"  # no correlation id
        f"C-2,cnid,{raw_identifier}\n"  # a raw identifier where the token goes
        f"C-3,phone,{token(3).upper()}\n"  # an unknown type and an upper-case token
        f"{'X' * 65},cnid,{token(4)}\n"  # a correlation id longer than the platform keeps
        "\n"  # a blank line is no row
        f"C-5,mobile,{token(5)}\n",
        encoding="utf-8",
    )

    exit_code = query(platform, file)

    out, err = capsys.readouterr()
    errors = tmp_path / "portfolio.csv.results.csv.errors.csv"
    assert exit_code == 1
    assert read_csv(errors) == [
        ["row", "field", "reason"],
        ["2", "correlation_id", "required"],
        ["3", "token", "bad_token"],
        ["4", "id_type", "unknown_id_type"],
        ["4", "token", "bad_token"],
        ["5", "correlation_id", "too_long"],
    ]
    assert [s["correlation_id"] for s in platform.requests[0].body["subjects"]] == ["C-0", "C-5"]
    results = tmp_path / "portfolio.csv.results.csv"
    assert out == f"6 rows: 2 answered (0 hits), 4 refused (see {errors}): results in {results}\n"
    for secret in (raw_identifier, token(3).upper(), API_KEY):
        assert secret not in out + err + errors.read_text(encoding="utf-8")


def test_a_csv_file_without_id_types_needs_id_type(platform, tmp_path, naps, capsys):
    file = tmp_path / "portfolio.tokens.csv"
    file.write_text(f"loan_ref,borrower_id\nL0001,{token(1)}\n", encoding="utf-8")

    assert query(platform, file, "--correlation-column", "loan_ref", "--token-column", "borrower_id") == 2

    assert "has no column id_type (or give every row one type with --id-type)" in capsys.readouterr().err
    assert platform.requests == []
    assert not (tmp_path / "portfolio.tokens.csv.results.csv").exists()


def test_a_rate_exceeded_waits_its_retry_after_then_carries_on(platform, tmp_path, naps, capsys):
    file = write_subjects(tmp_path / "portfolio.csv", 150)
    platform.script = [
        Scripted(429, "rate_exceeded", "More than 6,000 subjects a minute; slow down.", {"Retry-After": "42"}),
        Scripted(429, "rate_exceeded", "More than 6,000 subjects a minute; slow down.", {"Retry-After": "3600"}),
    ]

    assert query(platform, file) == 0

    assert naps == [42.0, querying.RATE_WAIT_CAP_SECONDS]  # a longer Retry-After is waited in steps, then retried
    assert len(platform.answered) == 2
    assert len(read_csv(tmp_path / "portfolio.csv.results.csv")) == 151
    assert "HTTP 429 rate_exceeded: More than 6,000 subjects a minute; slow down. (retrying in 42 s" in (
        capsys.readouterr().err
    )


def test_a_transient_failure_is_retried_although_a_query_has_no_idempotency_key(platform, tmp_path, naps):
    file = write_subjects(tmp_path / "portfolio.csv", 5)
    platform.script = [Scripted(503, "unavailable")]

    assert query(platform, file) == 0

    assert len(platform.requests) == 2
    assert "idempotency-key" not in platform.requests[1].headers
    assert len(naps) == 1


def test_the_daily_quota_stops_the_run_with_exit_2_and_keeps_what_was_answered(platform, tmp_path, naps, capsys):
    file = write_subjects(tmp_path / "portfolio.csv", 250)
    platform.quota = 150

    exit_code = query(platform, file)

    out, err = capsys.readouterr()
    results = tmp_path / "portfolio.csv.results.csv"
    assert exit_code == 2
    assert len(platform.requests) == 2  # never retried: waiting would take hours
    assert naps == []
    assert [row[0] for row in read_csv(results)[1:]] == [f"C-{n}" for n in range(100)]
    assert "error: HTTP 429 quota_exceeded: The daily quota of 150 subjects is used up." in err
    assert "run the same command again tomorrow" in err
    assert f"100 answered in this run (1 hit) are in {results}: run the same command again" in err
    assert out == ""


def test_running_again_skips_what_was_answered_and_never_asks_a_batch_twice(platform, tmp_path, naps, capsys):
    file = write_subjects(tmp_path / "portfolio.csv", 250)
    platform.quota = 150
    assert query(platform, file) == 2
    capsys.readouterr()
    platform.quota = None

    assert query(platform, file) == 0

    out, err = capsys.readouterr()
    results = tmp_path / "portfolio.csv.results.csv"
    answered = [[s["correlation_id"] for s in body["subjects"]] for body in platform.answered]
    assert answered == [[f"C-{n}" for n in range(start, min(start + 100, 250))] for start in (0, 100, 200)]
    assert [row[0] for row in read_csv(results)[1:]] == [f"C-{n}" for n in range(250)]
    assert f"{results} holds 100 answers already: those subjects are skipped" in err
    assert out == f"250 rows: 150 answered (0 hits), 100 answered before, 0 refused: results in {results}\n"


def test_a_line_half_written_when_a_run_died_is_asked_again(platform, tmp_path, naps):
    file = write_subjects(tmp_path / "portfolio.csv", 3)
    results = tmp_path / "portfolio.csv.results.csv"
    # C-1 was written whole; "C-2" lost the end of its line ("C-2" would read as an answered id otherwise).
    results.write_text(
        "correlation_id,hit,categories,latest_event_month,disputed,resolved,own,"
        + ",".join(vocabulary.LENDING_FIGURES)
        + "\r\nC-1,true,overdue_90:2;identity_theft:1,2026-04,true,true,,0,0,0,0,0,0,,0,0,0\r\nC-2,fal",
        encoding="utf-8",
    )

    assert query(platform, file) == 0

    assert [s["correlation_id"] for s in platform.requests[0].body["subjects"]] == ["C-0", "C-2"]
    assert [row[0] for row in read_csv(results)[1:]] == ["C-1", "C-0", "C-2"]


def test_an_existing_output_of_another_kind_is_refused(platform, tmp_path, naps, capsys):
    file = write_subjects(tmp_path / "portfolio.csv", 3)
    (tmp_path / "report.csv").write_text("row,field,code,message\n", encoding="utf-8")

    assert query(platform, file, "--output", str(tmp_path / "report.csv")) == 2

    assert "is not a results file of this command" in capsys.readouterr().err
    assert platform.requests == []
    assert (tmp_path / "report.csv").read_text(encoding="utf-8") == "row,field,code,message\n"


@pytest.mark.parametrize("purpose", ["loan_application", "credit_review"])
def test_a_purpose_that_needs_consent_is_refused_here_without_a_reference(platform, tmp_path, naps, capsys, purpose):
    file = write_subjects(tmp_path / "portfolio.csv", 3)

    refused = cli.main(["query", str(file), "--url", platform.url, "--purpose", purpose, "--quiet"])
    err = capsys.readouterr().err
    given = cli.main(
        ["query", str(file), "--url", platform.url, "--purpose", purpose, "--quiet", "--consent-reference", "AUTH-7"]
    )

    assert refused == 2
    assert "--consent-reference" in err
    assert given == 0
    assert len(platform.requests) == 1
    assert platform.requests[0].body["consent_reference"] == "AUTH-7"
    assert platform.requests[0].body["purpose"] == purpose


def test_a_refused_batch_prints_its_field_errors_with_their_rows_and_stops(platform, tmp_path, naps, capsys):
    file = write_subjects(tmp_path / "portfolio.csv", 150)
    errors = [{"field": "subjects[1].token", "code": "bad_token", "message": "A member token is 64 hex."}]
    platform.script = [Scripted(400, "validation_error", "The request has 1 invalid value(s).", errors=errors)]

    assert query(platform, file) == 2

    err = capsys.readouterr().err
    assert "error: HTTP 400 validation_error: The request has 1 invalid value(s)." in err
    assert "  subjects[1].token: A member token is 64 hex. (bad_token)" in err
    assert "subjects[1] is row 2 (correlation id C-1)" in err
    assert len(platform.requests) == 1
    assert token(1) not in err


@pytest.mark.parametrize(
    ("code", "advice"),
    [("not_reciprocal", "must contribute flags"), ("missing_scope", "the match scope")],
)
def test_a_forbidden_query_stops_with_exit_2_and_what_to_do(platform, tmp_path, naps, capsys, code, advice):
    file = write_subjects(tmp_path / "portfolio.csv", 3)
    platform.script = [Scripted(403, code, "Refused.")]

    assert query(platform, file) == 2

    err = capsys.readouterr().err
    assert f"error: HTTP 403 {code}: Refused." in err
    assert advice in err
    assert len(platform.requests) == 1


def test_the_api_key_from_the_environment_is_sent_and_never_printed(platform, tmp_path, naps, capsys):
    file = write_subjects(tmp_path / "portfolio.csv", 3)

    assert cli.main(["query", str(file), "--url", platform.url, "--purpose", "collection"]) == 0

    out, err = capsys.readouterr()
    assert {seen.headers["authorization"] for seen in platform.requests} == {f"Api-Key {API_KEY}"}
    assert API_KEY not in out + err
    assert token(1) not in out + err
    assert "100.0%" in err  # the progress bar, without --quiet


def test_no_api_key_is_refused_before_anything_is_sent(platform, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(session.KEY_VARIABLE)
    file = write_subjects(tmp_path / "portfolio.csv", 3)

    assert query(platform, file) == 2

    assert "no API key" in capsys.readouterr().err
    assert platform.requests == []


def test_the_client_imports_nothing_from_django():
    result = without_django("import memberkit.cli, memberkit.querying")

    assert result.returncode == 0, result.stderr


def test_several_identifiers_of_a_row_are_sent_with_it_in_the_flat_form(platform, tmp_path, naps):
    file = tmp_path / "portfolio.csv"
    with file.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["correlation_id", "id_type", "token", "id_type_2", "token_2", "id_type_3", "token_3"])
        writer.writerow(["C-1", "cnid", token(1), "mobile", token(11), "", ""])
        writer.writerow(["C-2", "cnid", token(2), "", "", "passport", token(12)])  # a gap: the pair's own columns
        writer.writerow(["C-3", "cnid", token(3), "", "", "", ""])

    assert query(platform, file) == 0

    assert platform.requests[0].body["subjects"] == [
        {**subject(1), "id_type_2": "mobile", "token_2": token(11)},
        {**subject(2), "id_type_3": "passport", "token_3": token(12)},
        subject(3),
    ]


def test_a_numbered_identifier_the_platform_would_refuse_refuses_its_row_by_field(platform, tmp_path, naps):
    file = tmp_path / "portfolio.jsonl"
    rows = [
        {"correlation_id": "C-1", "id_type": "cnid", "token": token(1), "id_type_2": "cnid", "token_2": token(11)},
        {"correlation_id": "C-2", "id_type": "cnid", "token": token(2), "token_2": token(12)},
        {
            "correlation_id": "C-3",
            "id_type": "cnid",
            "token": token(3),
            "id_type_4": "mobile",
            "token_4": "13800138000",
        },
        {"correlation_id": "C-4", "id_type": "cnid", "token": token(4), "id_type_5": "email", "token_5": ""},
        {"correlation_id": "C-5", "id_type": "cnid", "token": token(5), "id_type_2": "mobile", "token_2": token(15)},
    ]
    file.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")

    assert query(platform, file) == 1

    assert read_csv(tmp_path / "portfolio.jsonl.results.csv.errors.csv") == [
        ["row", "field", "reason"],
        ["1", "id_type_2", "duplicate_id_type"],
        ["2", "id_type_2", "required"],
        ["3", "token_4", "bad_token"],
        ["4", "id_type_5", "unknown_id_type"],
        ["4", "token_5", "required"],
    ]
    assert [s["correlation_id"] for s in platform.requests[0].body["subjects"]] == ["C-5"]
    assert "13800138000" not in (tmp_path / "portfolio.jsonl.results.csv.errors.csv").read_text()


def test_answers_without_loan_figures_leave_the_columns_empty_and_say_why_once(platform, tmp_path, naps, capsys):
    platform.reported_loans = False
    file = write_subjects(tmp_path / "portfolio.csv", 250)  # three requests, three notes from the platform

    assert query(platform, file) == 0

    err = capsys.readouterr().err
    assert err.count("no_loan_contributions") == 1
    assert "note: no multi-lender figures: " + NO_LOANS_NOTE["message"] + " (no_loan_contributions)" in err
    rows = read_csv(tmp_path / "portfolio.csv.results.csv")
    assert {tuple(row[7:]) for row in rows[1:]} == {("",) * len(vocabulary.LENDING_FIGURES)}
    assert rows[2][:3] == ["C-1", "true", "overdue_90:2;identity_theft:1"]


def test_a_results_file_of_the_earlier_layout_is_not_continued(platform, tmp_path, naps, capsys):
    file = write_subjects(tmp_path / "portfolio.csv", 2)
    results = tmp_path / "portfolio.csv.results.csv"
    results.write_text("correlation_id,hit,categories,latest_event_month,disputed,resolved,own\r\n", encoding="utf-8")

    assert query(platform, file) == 2

    assert "written by an earlier version of this command, without the multi-lender figures" in capsys.readouterr().err
    assert platform.requests == []
