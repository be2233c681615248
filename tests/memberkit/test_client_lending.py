"""The member client against the real platform, for a borrower known by several identifiers: ``hash`` to
``upload --kind loans`` through a real worker, and ``query``'s multi-lender figures as the platform counts them.

A live server and the real endpoints: what one member's loans and lending queries make of another
member's answer, read from the files the commands wrote.
"""

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts import services as accounts_services
from accounts.choices import Scope
from accounts.models import Institution
from memberkit import cli
from memberkit.vocabulary import LENDING_FIGURES
from sharing.flags import services as flag_services
from sharing.loans import services as loan_services
from sharing.models import ContributedLoans, Loan, QueryRecord, Upload
from tests.factories import CONSORTIUM_KEY, PEOPLE, flag_item, member_token_of

pytestmark = pytest.mark.django_db(transaction=True)

MOBILE, OTHER_MOBILE = "13800138000", "13900139000"


def api_key(institution: Institution, tmp_path: Path, *scopes: str) -> Path:
    _, secret = accounts_services.issue_api_key(institution=institution, name="client", scopes=list(scopes))
    path = tmp_path / f"{institution.code}-{'-'.join(scope.replace(':', '_') for scope in scopes)}.key"
    path.write_text(secret + "\n")
    return path


def days_ago(days: int) -> str:
    return (timezone.localdate() - timedelta(days=days)).isoformat()


def loan(reference: str, token: str, opened: str, band: str = "10k_50k", **fields: str) -> dict[str, str]:
    return {
        "reference": reference,
        "id_type": "cnid",
        "token": token,
        "product": "cash_loan",
        "opened_on": opened,
        "amount_band": band,
        "consent_reference": "AUTH-2026-0001",
        **fields,
    }


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    return path


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def reciprocal_for_flags(institution: Institution) -> None:
    """A flag on nobody the tests ask about, in the category they look for: members see what they contribute."""
    flag_services.contribute(
        institution, [flag_item(f"{institution.code}-OWN", token=member_token_of(PEOPLE[4]), category="overdue_90")]
    )


def query(url: str, key_file: Path, file: Path, *extra: str) -> int:
    arguments = ["query", str(file), "--url", url, "--api-key-file", str(key_file), "--quiet"]
    return cli.main([*arguments, "--purpose", "post_loan_review", *extra])


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "consortium.key"
    path.write_text(CONSORTIUM_KEY.hex() + "\n")
    return path


def test_query_writes_the_multi_lender_figures_of_a_borrower_known_by_two_identifiers(
    live_server, cast, tmp_path, key_file, capsys
):
    alpha, beta = cast.alpha.institution, cast.beta.institution
    cnid, mobile = member_token_of(PEOPLE[0]), member_token_of(MOBILE, "mobile")
    reciprocal_for_flags(alpha)
    reciprocal_for_flags(beta)
    # Beta knows the borrower by mobile number only: a flag, and an open loan opened ten days ago.
    flag_services.contribute(beta, [flag_item("B-1", id_type="mobile", token=mobile, category="overdue_90")])
    loan_services.contribute(beta, [loan("B-LN-1", mobile, days_ago(10), "50k_200k", id_type="mobile")])
    # Alpha's own loan to the borrower, by resident ID, and one to someone else: alpha reports loans.
    loan_services.contribute(
        alpha, [loan("A-LN-1", cnid, days_ago(30)), loan("A-LN-2", member_token_of(PEOPLE[3]), days_ago(5))]
    )
    # Beta looks the borrower up for a loan application, by resident ID, with this very client.
    beta_subjects = write_csv(tmp_path / "beta.csv", [["correlation_id", "id_type", "token"], ["APP-1", "cnid", cnid]])
    beta_key = api_key(beta, tmp_path, Scope.MATCH)
    lending = ("--purpose", "loan_application", "--consent-reference", "AUTH-APP-1")
    assert query(live_server.url, beta_key, beta_subjects, *lending) == 0
    assert QueryRecord.objects.filter(institution=beta).count() == 1
    # Alpha asks with both identifiers of the borrower, and about one borrower nobody lent to.
    subjects = write_csv(
        tmp_path / "alpha.csv",
        [
            ["correlation_id", "id_type", "token", "id_type_2", "token_2"],
            ["C-1", "cnid", cnid, "mobile", mobile],
            ["C-2", "cnid", member_token_of(PEOPLE[1]), "", ""],
        ],
    )
    capsys.readouterr()

    exit_code = query(live_server.url, api_key(alpha, tmp_path, Scope.MATCH), subjects)

    out, err = capsys.readouterr()
    assert exit_code == 0, err
    assert "2 rows: 2 answered (1 hit)" in out
    assert "no multi-lender figures" not in err
    first, second = read_rows(tmp_path / "alpha.csv.results.csv")
    assert (first["correlation_id"], first["hit"], first["categories"]) == ("C-1", "true", "overdue_90:1")
    assert {figure: first[figure] for figure in LENDING_FIGURES} == {
        "institutions_queried_7d": "1",
        "institutions_queried_30d": "1",
        "institutions_queried_90d": "1",
        "institutions_with_open_loans": "1",
        "loans_opened_90d": "1",
        "loans_opened_180d": "1",
        "open_amount_band": "50k_200k",
        "own_queries_90d": "0",
        "own_open_loans": "1",
        "own_loans_opened_180d": "1",
    }
    assert {figure: second[figure] for figure in LENDING_FIGURES} == {
        **dict.fromkeys(LENDING_FIGURES, "0"),
        "open_amount_band": "",
    }
    assert not QueryRecord.objects.filter(institution=alpha).exists()  # post-loan review leaves none
    for token in (cnid, mobile):
        assert token not in out + err


def test_a_member_that_reports_no_loans_gets_flags_and_a_note_instead_of_figures(live_server, cast, tmp_path, capsys):
    alpha, beta = cast.alpha.institution, cast.beta.institution
    reciprocal_for_flags(alpha)
    flag_services.contribute(beta, [flag_item("B-1", token=member_token_of(PEOPLE[0]), category="overdue_90")])
    loan_services.contribute(beta, [loan("B-LN-1", member_token_of(PEOPLE[0]), days_ago(10))])
    subjects = write_csv(
        tmp_path / "alpha.csv",
        [["correlation_id", "id_type", "token"], ["C-1", "cnid", member_token_of(PEOPLE[0])]],
    )

    exit_code = query(live_server.url, api_key(alpha, tmp_path, Scope.MATCH), subjects)

    err = capsys.readouterr().err
    assert exit_code == 0, err
    assert err.count("(no_loan_contributions)") == 1
    assert "note: no multi-lender figures: " in err
    [row] = read_rows(tmp_path / "alpha.csv.results.csv")
    assert (row["hit"], row["categories"]) == ("true", "overdue_90:1")
    assert [row[figure] for figure in LENDING_FIGURES] == [""] * len(LENDING_FIGURES)


@pytest.mark.worker
def test_a_raw_file_of_loans_is_hashed_uploaded_and_stored_with_every_identifier(
    celery_worker, live_server, cast, tmp_path, key_file, capsys
):
    alpha = cast.alpha.institution
    header = ["reference", "id_type", "identifier", "id_type_2", "identifier_2", "product", "opened_on"]
    first = ["LN-1", "cnid", "110105 19491231 002x", "mobile", "138-0013-8000", "cash_loan", days_ago(40)]
    second = ["LN-2", "cnid", PEOPLE[1], "", "", "credit_card", days_ago(400)]
    raw = write_csv(
        tmp_path / "loans.csv",
        [
            [*header, "amount_band", "consent_reference", "closed_on"],
            [*first, "10k_50k", "AUTH-2026-0001", ""],
            [*second, "lt_10k", "AUTH-2025-0417", days_ago(100)],
        ],
    )
    tokens = tmp_path / "loans.tokens.csv"
    assert cli.main(["hash", str(raw), str(tokens), "--key-file", str(key_file), "--workers", "1", "--quiet"]) == 0
    loans_key = api_key(alpha, tmp_path, Scope.LOANS_WRITE)

    def upload(file: Path) -> int:
        arguments = ["upload", str(file), "--kind", "loans", "--url", live_server.url, "--api-key-file"]
        return cli.main([*arguments, str(loans_key), "--poll-seconds", "0.2", "--quiet"])

    capsys.readouterr()
    assert upload(tokens) == 0

    out, err = capsys.readouterr()
    job = Upload.objects.get(institution=alpha, kind="loans")
    assert f"upload of loans {job.pk} succeeded: 2 rows: 2 created, 0 updated, 0 superseded, 0 rejected\n" in out, err
    stored = {
        loan.reference: sorted(loan.tokens.values_list("id_type", flat=True))
        for loan in Loan.objects.filter(institution=alpha)
    }
    assert stored == {"LN-1": ["cnid", "mobile"], "LN-2": ["cnid"]}
    assert Loan.objects.get(reference="LN-2").closed_on is not None
    assert ContributedLoans.objects.get(institution=alpha).last_contributed_at is not None
    assert not (tmp_path / "loans.tokens.csv.upload-errors.csv").exists()

    # The same borrower's next loan, under another mobile number: stored, and reported as a warning.
    identifiers = ["cnid", member_token_of(PEOPLE[0]), "mobile", member_token_of(OTHER_MOBILE, "mobile")]
    later = write_csv(
        tmp_path / "later.csv",
        [
            [
                "reference",
                "id_type",
                "token",
                "id_type_2",
                "token_2",
                "product",
                "opened_on",
                "amount_band",
                "consent_reference",
            ],
            ["LN-3", *identifiers, "instalment", days_ago(2), "lt_10k", "AUTH-2026-0002"],
        ],
    )
    capsys.readouterr()

    assert upload(later) == 0

    out = capsys.readouterr().out
    report = tmp_path / "later.csv.upload-errors.csv"
    assert "1 created" in out
    assert f"1 stored with a token shared with other records of yours (shared_token) (see {report})" in out
    assert [row["code"] for row in read_rows(report)] == ["shared_token"]
    assert Loan.objects.filter(institution=alpha).count() == 3
