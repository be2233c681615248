"""The report's multi-lending tables: counts exact against this test's own computation, small cells
suppressed with their complements, the signed files, members' slices and the portal."""

import csv
import io
import random
import secrets
from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.choices import Sector
from memberkit import cli
from sharing import tasks
from sharing.models import Loan, QueryRecord, Report
from sharing.reports import gathering as reporting
from sharing.reports import jobs as reports
from sharing.reports import publishing
from sharing.reports.lending import LENDING_QUERIES, LOANS_OPENED, MULTI_LENDING, lending_cells
from sharing.reports.suppression import Cells
from tests.factories import InstitutionFactory
from tests.sharing.reports.lending import Given, expected_loans_opened, expected_multi_lending, store

pytestmark = pytest.mark.django_db

X = "suppressed"
URL = "/api/v1/reports"
AUTUMN = reporting.Period(date(2026, 8, 1), date(2026, 10, 31))
NEW_TABLES = {MULTI_LENDING, LOANS_OPENED, LENDING_QUERIES}


@pytest.fixture
def lenders(cast):
    """Fourteen members: six banks (alpha and beta among them), four consumer-finance companies, four micro-lenders."""
    banks = [cast.alpha.institution, cast.beta.institution]
    banks += [InstitutionFactory.create(sector=Sector.BANK) for _ in range(4)]
    finance = [InstitutionFactory.create(sector=Sector.CONSUMER_FINANCE) for _ in range(4)]
    micro = [InstitutionFactory.create(sector=Sector.MICROLENDER) for _ in range(4)]
    return {"bank": banks, "consumer_finance": finance, "microlender": micro}


def everyone(lenders):
    return [institution for group in lenders.values() for institution in group]


def published(period=AUTUMN):
    return publishing.publish(period, reporting.gather(period), reporting.members())


def cells(figures, name):
    """A table as {(row, column): value}, suppressed cells as X."""
    table = next(table for table in figures["tables"] if table["name"] == name)
    return {
        (row, column): X if hidden else value
        for row, values, flags in zip(table["rows"], table["cells"], table["suppressed"], strict=True)
        for column, value, hidden in zip(table["columns"], values, flags, strict=True)
    }


def person():
    """A borrower's identifiers: platform tokens by type."""
    return {id_type: secrets.token_bytes(32) for id_type in ("cnid", "mobile", "passport")}


def generated(lenders, seed=17, people=220):
    """Borrowers with one to thirteen lenders, loans opened from May to October and some closed, each
    loan carrying a few of its borrower's identifiers; pairs of borrowers share a mobile number."""
    rng = random.Random(seed)
    members = everyone(lenders)
    persons = [person() for _ in range(people)]
    for n in range(0, people - 1, 2):
        persons[n + 1]["mobile"] = persons[n]["mobile"]  # a family's phone
    carried = [("cnid", "mobile")] * 7 + [("mobile",)] * 2 + [("passport", "mobile"), ("cnid",), ("passport",)]
    loans = []
    for identifiers in persons:
        for institution in rng.sample(members, rng.choice([1, 1, 2, 3, 3, 4, 5, 6, 8, 11, 13])):
            opened = date(2026, 5, 1) + timedelta(days=rng.randrange(184))
            if rng.random() < 0.05:
                opened = date(2026, 8, 31)  # opened on a month's last day: open at its end
            closed = None if rng.random() < 0.6 else opened + timedelta(days=rng.randrange(120))
            if rng.random() < 0.05:
                closed = max(opened, date(2026, 9, 30))  # closed on a month's last day: not open at its end
            tokens = tuple((id_type, identifiers[id_type]) for id_type in rng.choice(carried))
            loans.append(Given(institution, opened, closed, tokens))
    return loans


# The counts.


def test_multi_lending_and_loans_opened_are_exact_against_a_generated_book(lenders):
    loans = generated(lenders)
    store(loans)

    counts = reporting.gather(AUTUMN)

    assert counts.multi_lending == expected_multi_lending(loans, AUTUMN)
    assert counts.loans_opened == expected_loans_opened(loans, AUTUMN)
    assert counts.multi_lending[("2026-10", "all")]["3-4"] > 10  # the book is big enough to publish
    assert sum(bands.get("10+", 0) for bands in counts.multi_lending.values()) > 0


def test_a_period_cut_within_months_counts_each_month_to_the_periods_end(lenders):
    loans = generated(lenders, seed=5)
    store(loans)
    period = reporting.Period(date(2026, 8, 15), date(2026, 10, 20))

    counts = reporting.gather(period)

    assert [(m.code, m.first, m.last) for m in period.months()] == [
        ("2026-08", date(2026, 8, 15), date(2026, 8, 31)),
        ("2026-09", date(2026, 9, 1), date(2026, 9, 30)),
        ("2026-10", date(2026, 10, 1), date(2026, 10, 20)),
    ]
    assert counts.multi_lending == expected_multi_lending(loans, period)
    assert counts.loans_opened == expected_loans_opened(loans, period)


DAYS = st.integers(min_value=0, max_value=110).map(lambda n: date(2026, 7, 20) + timedelta(days=n))
TYPES = st.sets(st.sampled_from(["cnid", "mobile", "passport", "uscc"]), min_size=1, max_size=4)
LOANS = st.lists(
    st.tuples(
        st.integers(0, 13),  # the lender
        st.integers(0, 4),  # the person: few, so that they borrow from many
        DAYS,
        st.one_of(st.none(), st.integers(0, 70)),  # days until it closed
        TYPES,
    ),
    max_size=40,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=LOANS)
def test_the_counts_hold_for_any_small_book(lenders, drawn):
    """Loans opened or closed on a month's last day, several identifiers, shared tokens: still exact."""
    Loan.objects.all().delete()
    members = everyone(lenders)
    people = [{t: bytes([n, k]) * 16 for k, t in enumerate(("cnid", "mobile", "passport", "uscc"))} for n in range(5)]
    people[1]["mobile"] = people[0]["mobile"]
    loans = [
        Given(
            members[lender],
            opened,
            None if closing is None else opened + timedelta(days=closing),
            tuple((id_type, people[who][id_type]) for id_type in sorted(types)),
        )
        for lender, who, opened, closing, types in drawn
    ]
    store(loans)

    counts = reporting.gather(AUTUMN)

    assert counts.multi_lending == expected_multi_lending(loans, AUTUMN)
    assert counts.loans_opened == expected_loans_opened(loans, AUTUMN)


def test_a_borrower_is_named_by_its_strongest_identifier_and_counted_once_per_lender(lenders):
    banks = lenders["bank"]
    someone, other = person(), person()
    store(
        [
            # Three banks know someone by resident ID (one also by mobile): one borrower, three lenders.
            Given(banks[0], date(2026, 9, 1), None, (("cnid", someone["cnid"]), ("mobile", someone["mobile"]))),
            Given(banks[1], date(2026, 9, 2), None, (("cnid", someone["cnid"]),)),
            Given(banks[2], date(2026, 9, 3), None, (("mobile", other["mobile"]), ("cnid", someone["cnid"]))),
            # A second loan at the first bank adds a loan, not a lender.
            Given(banks[0], date(2026, 9, 4), None, (("cnid", someone["cnid"]),)),
            # A fourth bank knows only the mobile number: by the rule, another borrower.
            Given(banks[3], date(2026, 9, 5), None, (("mobile", someone["mobile"]),)),
        ]
    )

    counts = reporting.gather(AUTUMN)

    assert counts.multi_lending == {("2026-09", "bank"): {"3-4": 1}, ("2026-09", "all"): {"3-4": 1}} | {
        ("2026-10", "bank"): {"3-4": 1},
        ("2026-10", "all"): {"3-4": 1},
    }
    assert counts.loans_opened == {
        ("2026-09", "bank"): {"loans": 5, "borrowers": 2},
        ("2026-09", "all"): {"borrowers": 2},
    }


def test_a_borrower_counts_under_each_sector_that_lends_to_it_and_once_in_all(lenders):
    someone = person()
    store(
        [
            Given(lender, date(2026, 10, 1), None, (("cnid", someone["cnid"]),))
            for lender in [*lenders["bank"][:2], lenders["microlender"][0]]
        ]
    )

    counts = reporting.gather(AUTUMN)

    assert counts.multi_lending == {
        ("2026-10", "bank"): {"3-4": 1},
        ("2026-10", "microlender"): {"3-4": 1},
        ("2026-10", "all"): {"3-4": 1},
    }


def test_loans_erased_by_retention_and_closed_loans_are_not_open(lenders):
    someone = person()
    tokens = (("cnid", someone["cnid"]),)
    banks = lenders["bank"]
    store(
        [
            Given(banks[0], date(2020, 1, 1), date(2026, 10, 31), tokens),  # closed on the last day: not open
            Given(banks[1], date(2020, 1, 1), None, tokens),
            Given(banks[2], date(2026, 11, 1), None, tokens),  # opened after the period
            Given(banks[3], date(2026, 10, 1), None, tokens),
        ]
    )
    erased = Loan.objects.get(institution=banks[3])
    erased.tokens.all().delete()
    Loan.objects.filter(pk=erased.pk).update(reference=None)

    counts = reporting.gather(reporting.Period(date(2026, 10, 1), date(2026, 10, 31)))

    assert counts.multi_lending == {}
    assert counts.loans_opened == {}


def test_lending_query_records_are_counted_by_month_and_sector(lenders):
    bank, micro = lenders["bank"][0], lenders["microlender"][0]
    tokens = [secrets.token_bytes(32) for _ in range(30)]
    made = [(bank, date(2026, 9, 3), "loan_application"), (bank, date(2026, 9, 4), "credit_review")]
    made += [(micro, date(2026, 10, 9), "credit_review")]
    QueryRecord.objects.bulk_create(
        QueryRecord(token=token, day=day, institution=institution, purpose=purpose, pepper_version=1)
        for institution, day, purpose in made
        for token in tokens
    )
    QueryRecord.objects.create(  # July's: not the period's
        token=tokens[0], day=date(2026, 7, 31), institution=bank, purpose="credit_review", pepper_version=1
    )

    table = cells(published(), LENDING_QUERIES)

    assert (table["2026-09/bank", "records"], table["2026-09/bank", "institutions"]) == (60, 1)
    assert (table["2026-09/all", "records"], table["2026-09/all", "institutions"]) == (60, 1)
    assert (table["2026-10/microlender", "records"], table["2026-10/all", "records"]) == (30, 30)
    assert (table["2026-08/all", "records"], table["2026-08/all", "institutions"]) == (0, 0)


# The published tables and their suppression.


def test_the_tables_have_a_row_per_month_and_sector_and_their_columns(lenders):
    figures = published()
    tables = {table["name"]: table for table in figures["tables"]}

    sectors = ["bank", "consumer_finance", "microlender", "all"]
    rows = [f"{month}/{sector}" for month in ("2026-08", "2026-09", "2026-10") for sector in sectors]
    assert tables[MULTI_LENDING]["rows"] == rows
    assert tables[MULTI_LENDING]["columns"] == ["3+", "5+", "10+"]
    assert tables[LOANS_OPENED]["columns"] == ["loans", "borrowers"]
    assert tables[LENDING_QUERIES]["columns"] == ["records", "institutions"]
    assert not any(tables[name]["by_institution"] for name in NEW_TABLES)
    assert any(note.startswith("multi-lending: a loan's borrower is its first identifier") for note in figures["notes"])


def test_a_period_without_loans_publishes_zeros(lenders):
    figures = published()

    for name in NEW_TABLES:
        table = cells(figures, name)
        assert set(table.values()) == {0}, name


def separate_sectors(lenders, banks_borrowers=20, finance_borrowers=4):
    """Borrowers each with loans open at three banks, or at three consumer-finance companies, in October."""
    loans = []
    for group, borrowers in (("bank", banks_borrowers), ("consumer_finance", finance_borrowers)):
        for _ in range(borrowers):
            someone = person()
            loans += [
                Given(lender, date(2026, 10, 2), None, (("cnid", someone["cnid"]),)) for lender in lenders[group][:3]
            ]
    return loans


def test_a_small_cell_is_suppressed_with_a_complement_so_that_the_total_does_not_give_it_away(lenders):
    store(separate_sectors(lenders))

    table = cells(published(), MULTI_LENDING)

    # Four borrowers at consumer-finance companies: small. No borrower has loans of two sectors,
    # so 24 = 20 + 4 + 0 would give the four away; the banks' 20 is hidden too.
    assert table["2026-10/consumer_finance", "3+"] == X
    assert table["2026-10/bank", "3+"] == X
    assert table["2026-10/all", "3+"] == 24
    assert table["2026-10/microlender", "3+"] == 0
    assert table["2026-10/all", "5+"] == 0
    opened = cells(published(), LOANS_OPENED)
    # 12 loans opened by consumer-finance companies to 4 borrowers: the borrowers are small, and so
    # would be worked out from all's 24 minus the banks' 20, which is hidden with them.
    assert opened["2026-10/consumer_finance", "loans"] == 12
    assert opened["2026-10/consumer_finance", "borrowers"] == X
    assert opened["2026-10/bank", "borrowers"] == X
    assert (opened["2026-10/bank", "loans"], opened["2026-10/all", "loans"], opened["2026-10/all", "borrowers"]) == (
        60,
        72,
        24,
    )


def test_a_small_band_hidden_between_published_thresholds_is_protected(lenders):
    """3+ minus 5+ is the borrowers with three or four lenders: were it 1 to 10, publishing both would tell it."""
    loans = []
    for lenders_each, borrowers in ((3, 4), (5, 30)):
        for _ in range(borrowers):
            someone = person()
            loans += [
                Given(lender, date(2026, 10, 2), None, (("cnid", someone["cnid"]),))
                for lender in lenders["bank"][:lenders_each]
            ]
    store(loans)

    table = cells(published(), MULTI_LENDING)

    assert table["2026-10/bank", "3+"] == X or table["2026-10/bank", "5+"] == X
    assert table["2026-10/all", "3+"] == X or table["2026-10/all", "5+"] == X


def test_sectors_that_share_borrowers_are_not_taken_for_parts_of_all(lenders):
    loans = separate_sectors(lenders, banks_borrowers=20, finance_borrowers=15)
    for _ in range(12):  # borrowers of both: counted under each, once in all
        someone = person()
        loans += [
            Given(lender, date(2026, 10, 2), None, (("cnid", someone["cnid"]),))
            for lender in [*lenders["bank"][:2], *lenders["consumer_finance"][:2]]
        ]
    store(loans)

    table = cells(published(), MULTI_LENDING)

    assert (table["2026-10/bank", "3+"], table["2026-10/consumer_finance", "3+"]) == (32, 27)
    assert (table["2026-10/all", "3+"], table["2026-10/all", "5+"]) == (47, 0)


def test_no_published_cell_of_the_new_tables_counts_one_to_ten_borrowers_and_none_hidden_can_be_worked_out(lenders):
    store(generated(lenders, seed=3))
    counts = reporting.gather(AUTUMN)
    figures = publishing.publish(AUTUMN, counts, reporting.members())

    for name in NEW_TABLES:
        for (row, column), value in cells(figures, name).items():
            if column != "institutions" and isinstance(value, int):
                assert not 1 <= value <= 10, (name, row, column, value)
    # What a reader does not know: the cells shown hidden, and the bands (3-4, 5-9) that are never
    # shown as such. What must stay unknown: the hidden cells, and the bands of 1 to 10 borrowers.
    every = Cells()
    sector_of = {institution.pk: institution.sector for institution in reporting.members()}
    lending_cells(every, counts, AUTUMN.months(), ["bank", "consumer_finance", "microlender"], sector_of)
    bands = {key for key in every.values if isinstance(key, tuple) and key[0] == "multi" and key[3] in ("3-4", "5-9")}
    shown_hidden = hidden_cells(figures)
    assert shown_hidden
    protected = shown_hidden | {key for key in bands if 1 <= every.values[key] <= 10}
    assert not pinned_down(shown_hidden | bands, every.lines) & protected


def hidden_cells(figures):
    """The keys of the new tables' suppressed cells, as lending_cells names them."""
    kinds = {MULTI_LENDING: "multi", LOANS_OPENED: "opened", LENDING_QUERIES: "queries"}
    hidden = set()
    for name, kind in kinds.items():
        for (row, column), value in cells(figures, name).items():
            if value == X:
                month, sector = row.split("/")
                hidden.add((kind, month, sector, column))
    return hidden


def pinned_down(unknown, lines):
    """The unknown cells whose value the lines fix, the other cells being known: x is fixed exactly
    when dropping its column lowers the rank of the system (exact fractions, this test's own)."""
    order = sorted(unknown, key=repr)
    matrix = []
    for line in lines:
        row = [Fraction(0)] * len(order)
        for cell, sign in ((line.total, 1), *((part, -1) for part in line.parts)):
            if cell in unknown:
                row[order.index(cell)] += sign
        if any(row):
            matrix.append(row)
    whole = _rank(matrix)
    return {cell for n, cell in enumerate(order) if _rank([r[:n] + r[n + 1 :] for r in matrix]) < whole}


def _rank(matrix):
    rows = [list(r) for r in matrix]
    rank, columns = 0, len(rows[0]) if rows else 0
    for c in range(columns):
        pivot = next((r for r in range(rank, len(rows)) if rows[r][c] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for r in range(len(rows)):
            if r != rank and rows[r][c] != 0:
                factor = rows[r][c] / rows[rank][c]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[rank], strict=True)]
        rank += 1
    return rank


# Slices, files, the portal.


@pytest.fixture
def built(lenders, cast):
    store(generated(lenders))
    report = tasks.request_report(AUTUMN.starts_on, AUTUMN.ends_on, by=cast.regulator["regulator_staff"])
    reports.build(report.pk)
    return Report.objects.get(pk=report.pk)


def test_the_signed_files_carry_the_new_tables_and_verify(built, cast, client_for, anonymous, tmp_path):
    client = client_for(cast.regulator["regulator_staff"])
    content = client.get(f"{URL}/{built.pk}/files/csv").content
    rows = list(csv.DictReader(io.StringIO(content.decode())))

    assert {row["table"] for row in rows} >= NEW_TABLES
    line = next(r for r in rows if (r["table"], r["row"], r["column"]) == (LOANS_OPENED, "2026-10/all", "loans"))
    assert int(line["value"]) == cells(built.figures, LOANS_OPENED)["2026-10/all", "loans"] > 10
    for file_format in ("csv", "xlsx"):
        (tmp_path / f"report.{file_format}").write_bytes(client.get(f"{URL}/{built.pk}/files/{file_format}").content)
        signature = client.get(f"{URL}/{built.pk}/files/{file_format}/signature").content
        (tmp_path / f"report.{file_format}.sig").write_bytes(signature)
    (tmp_path / "key.pem").write_text(anonymous.get(f"{URL}/public-key").json()["public_key_pem"])
    for file_format in ("csv", "xlsx"):
        report = str(tmp_path / f"report.{file_format}")
        assert cli.main(["verify", report, "--public-key", str(tmp_path / "key.pem")]) == 0


def test_members_slices_hold_none_of_the_sector_tables(built, cast, client_for):
    own = client_for(cast.alpha["analyst"]).get(f"{URL}/{built.pk}").json()["figures"]
    content = client_for(cast.alpha["auditor"]).get(f"{URL}/{built.pk}/files/csv").content.decode()

    assert not NEW_TABLES & {table["name"] for table in own["tables"]}
    assert not NEW_TABLES & {row["table"] for row in csv.DictReader(io.StringIO(content))}
    assert "2026-10/" not in content


def test_the_portal_shows_the_new_tables_in_words(built, cast, client):
    client.force_login(cast.regulator["regulator_staff"])

    chinese = client.get(f"/reports/{built.pk}/").text
    english = client.get(f"/reports/{built.pk}/", HTTP_ACCEPT_LANGUAGE="en").text

    assert f'id="{MULTI_LENDING}"' in chinese
    assert "多头借贷" in chinese
    assert "2026-10 银行" in chinese
    assert "Multi-lending: borrowers with loans open at several lenders" in english
    assert "2026-10 Bank" in english
