"""``python -m memberkit inspect`` against the real platform: a live server, a real worker, real results.

The command sends a tokenized portfolio, follows the job while a Celery worker
matches it, and downloads the results and the error report. These tests read
what it wrote against what the flags say, and hold it to one inspection
however often it is run.
"""

import csv
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts import services as accounts_services
from accounts.choices import Scope
from memberkit import cli, inspecting
from sharing.flags import services
from sharing.loans import services as loan_services
from sharing.models import Inspection
from tests.factories import flag_item, member_token_of

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PEOPLE = ["11010519491231002X", "440524198001010013", "11010119900307803X"]


@pytest.fixture
def platform(celery_worker, live_server, cast, tmp_path: Path):
    """Beta flagged the first person twice and the third once; alpha's key for the command.

    Alpha contributes the three categories itself: by default a member sees only the categories it contributes.
    """
    someone_else = member_token_of("110101198001011232")
    services.contribute(
        cast.alpha.institution,
        [
            flag_item(f"A-{category}", token=someone_else, category=category)
            for category in ("overdue_30", "overdue_90", "fraud_suspected")
        ],
    )
    services.contribute(
        cast.beta.institution,
        [
            flag_item("B-1", token=member_token_of(PEOPLE[0]), category="overdue_90", event_date="2026-03-10"),
            flag_item("B-2", token=member_token_of(PEOPLE[0]), category="fraud_suspected", event_date="2026-05-02"),
            flag_item("B-3", token=member_token_of(PEOPLE[2]), category="overdue_30", event_date="2026-01-15"),
        ],
    )
    _, secret = accounts_services.issue_api_key(
        institution=cast.alpha.institution, name="inspections", scopes=[Scope.INSPECTIONS]
    )
    key_file = tmp_path / "api-key"
    key_file.write_text(secret + "\n")
    return live_server.url, key_file


def portfolio(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["correlation_id", "id_type", "token"])
        writer.writerows([correlation_id, "cnid", token] for correlation_id, token in rows)
    return path


def book(tmp_path: Path) -> Path:
    rows = [(f"L-{n}", member_token_of(person)) for n, person in enumerate(PEOPLE)]
    return portfolio(tmp_path / "book.csv", [*rows, ("L-bad", "not-a-token")])


def command(platform, file: Path, *extra: str) -> list[str]:
    url, key_file = platform
    return [
        "inspect",
        str(file),
        "--url",
        url,
        "--api-key-file",
        str(key_file),
        "--portfolio",
        "consumer-2026",
        "--purpose",
        "post_loan_review",
        "--poll-seconds",
        "0.2",
        "--quiet",
        *extra,
    ]


def test_inspects_a_portfolio_and_downloads_results_and_errors(platform, tmp_path, capsys):
    file = book(tmp_path)

    code = cli.main(command(platform, file))

    out = capsys.readouterr().out
    assert code == 1, out  # one row was rejected
    inspection = Inspection.objects.get()
    with (tmp_path / "book.csv.inspection.csv").open(newline="") as results:
        assert [(row["correlation_id"], row["category"], row["institutions"]) for row in csv.DictReader(results)] == [
            ("L-0", "fraud_suspected", "1"),
            ("L-0", "overdue_90", "1"),
            ("L-2", "overdue_30", "1"),
        ]
    with (tmp_path / "book.csv.inspection.csv.errors.csv").open(newline="") as errors:
        assert list(csv.reader(errors))[1] == [
            "5",
            "token",
            "bad_token",
            "A member token is 64 lowercase hexadecimal characters.",
        ]
    assert f"inspection {inspection.pk} of consumer-2026: 4 rows, 2 subjects flagged by others" in out
    assert "  overdue_90: 1" in out
    for token in (member_token_of(person) for person in PEOPLE):
        assert token not in out


def test_running_the_command_again_follows_the_same_inspection(platform, tmp_path, capsys, monkeypatch):
    file = book(tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(inspecting, "follow", interrupted)
        assert cli.main(command(platform, file)) == 2
    assert "run the same command again" in capsys.readouterr().err

    code = cli.main(command(platform, file, "--output", str(tmp_path / "results.jsonl")))

    assert code == 1
    assert "this portfolio was sent before: following inspection" in capsys.readouterr().err
    assert Inspection.objects.count() == 1
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [(line["correlation_id"], len(line["categories"])) for line in lines] == [("L-0", 2), ("L-2", 1)]


def test_a_second_inspection_of_the_portfolio_reports_what_is_new(platform, cast, tmp_path, capsys):
    cli.main(command(platform, book(tmp_path)))
    first = Inspection.objects.get()
    services.contribute(
        cast.beta.institution,
        [flag_item("B-4", token=member_token_of(PEOPLE[1]), category="overdue_90", event_date="2026-06-01")],
    )
    capsys.readouterr()
    later = portfolio(tmp_path / "later.csv", [(f"L-{n}", member_token_of(person)) for n, person in enumerate(PEOPLE)])

    code = cli.main(command(platform, later))

    assert code == 0
    out = capsys.readouterr().out
    assert f"3 rows, 3 subjects flagged by others, 1 new since inspection {first.pk}" in out
    with (tmp_path / "later.csv.inspection.csv").open(newline="") as results:
        new = {row["correlation_id"] for row in csv.DictReader(results) if row["new"] == "true"}
    assert new == {"L-1"}
    assert not (tmp_path / "later.csv.inspection.csv.errors.csv").exists()


def test_a_purpose_that_needs_consent_is_refused_before_anything_is_sent(platform, tmp_path, capsys):
    code = cli.main([*command(platform, book(tmp_path)), "--purpose", "credit_review"])

    assert code == 2
    assert "--consent-reference" in capsys.readouterr().err
    assert not Inspection.objects.exists()


MOBILE = "13800138000"


def days_ago(days: int) -> str:
    return (timezone.localdate() - timedelta(days=days)).isoformat()


def loan_item(reference: str, token: str, id_type: str = "cnid", opened: int = 10) -> dict[str, str]:
    return {
        "reference": reference,
        "id_type": id_type,
        "token": token,
        "product": "cash_loan",
        "opened_on": days_ago(opened),
        "amount_band": "50k_200k",
        "consent_reference": "AUTH-2026-0001",
    }


def test_a_portfolio_with_several_identifiers_gets_the_flags_and_figures_of_each(platform, cast, tmp_path, capsys):
    mobile = member_token_of(MOBILE, "mobile")
    # Beta knows the borrower by mobile number only; alpha reports loans, so it gets the figures.
    services.contribute(
        cast.beta.institution, [flag_item("B-M", id_type="mobile", token=mobile, category="overdue_90")]
    )
    loan_services.contribute(cast.beta.institution, [loan_item("B-LN-1", mobile, "mobile")])
    loan_services.contribute(cast.alpha.institution, [loan_item("A-LN-1", member_token_of("110101198001011232"))])
    file = tmp_path / "book.csv"
    with file.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["correlation_id", "id_type", "token", "id_type_2", "token_2"])
        writer.writerow(["L-1", "cnid", member_token_of(PEOPLE[1]), "mobile", mobile])
        writer.writerow(["L-2", "cnid", member_token_of(PEOPLE[2]), "", ""])

    code = cli.main(command(platform, file, "--lending-threshold", "institutions_with_open_loans=1"))

    out = capsys.readouterr().out
    assert code == 0, out
    assert Inspection.objects.get().lending_thresholds == {"institutions_with_open_loans": 1}
    with (tmp_path / "book.csv.inspection.csv").open(newline="") as results:
        rows = {(row["correlation_id"], row["category"]): row for row in csv.DictReader(results)}
    assert set(rows) == {("L-1", "overdue_90"), ("L-2", "overdue_30")}
    found = rows["L-1", "overdue_90"]
    assert (found["institutions"], found["institutions_with_open_loans"], found["loans_opened_90d"]) == ("1", "1", "1")
    assert (found["open_amount_band"], found["own_open_loans"]) == ("50k_200k", "0")
    assert rows["L-2", "overdue_30"]["institutions_with_open_loans"] == "0"
    assert "1 subject looked up for lending or lent to by other institutions" in out
    assert mobile not in out


def test_an_inspection_without_loan_contributions_says_why_it_has_no_figures(platform, tmp_path, capsys):
    code = cli.main(command(platform, book(tmp_path)))

    out = capsys.readouterr().out
    assert code == 1  # the bad row
    assert "no multi-lender figures: " in out
    assert "(no_loan_contributions)" in out
    with (tmp_path / "book.csv.inspection.csv").open(newline="") as results:
        assert {row["institutions_queried_30d"] for row in csv.DictReader(results)} == {""}


@pytest.mark.parametrize(
    ("threshold", "message"),
    [("own_open_loans=2", "a threshold is FIGURE=N"), ("loans_opened_90d=0", "a whole number from 1")],
)
def test_a_threshold_the_platform_would_refuse_is_refused_before_anything_is_sent(
    platform, tmp_path, capsys, threshold, message
):
    code = cli.main(command(platform, book(tmp_path), "--lending-threshold", threshold))

    assert code == 2
    assert message in capsys.readouterr().err
    assert not Inspection.objects.exists()
