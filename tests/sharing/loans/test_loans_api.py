"""POST/GET /api/v1/loans: reporting loans in batches and reading a member's own."""

import json

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.choices import AuditAction, Scope
from accounts.models import AuditEvent
from sharing.keys.tokens import peppers, platform_token
from sharing.loans.checking import FIELDS
from sharing.models import ContributedLoans, IdempotentRequest, Loan, LoanToken
from tests.factories import PEOPLE, member_token_of
from tests.sharing.loans.items import loan_item, mobile_token

pytestmark = pytest.mark.django_db

URL = "/api/v1/loans"


@pytest.fixture
def contributor(cast, client_for):
    return client_for(cast.alpha["contributor"])


def tokens_of(loan: Loan) -> list[tuple[str, bytes]]:
    return [(token.id_type, bytes(token.token)) for token in LoanToken.objects.filter(loan=loan).order_by("id")]


def errors_of(response) -> set[tuple[str, str]]:
    return {(error["field"], error["code"]) for error in response.json()["errors"]}


def test_a_batch_is_stored_with_a_platform_token_per_identifier_and_stamps_the_contribution(cast, contributor):
    two = loan_item("LN-2", person=1, id_type_2="mobile", token_2=mobile_token(), product="credit_card")

    response = contributor.post(URL, {"loans": [loan_item("LN-1"), two]})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["updated"]) == (2, 0)
    assert [(item["reference"], item["open"]) for item in body["loans"]] == [("LN-1", True), ("LN-2", True)]
    loan = Loan.objects.get(reference="LN-2")
    assert loan.institution == cast.alpha.institution
    assert (loan.product, str(loan.opened_on), loan.closed_on, loan.expires_on) == (
        "credit_card",
        "2026-03-01",
        None,
        None,
    )
    assert loan.consent_reference == "AUTH-2026-0001"
    assert tokens_of(loan) == [
        ("cnid", platform_token(member_token_of(PEOPLE[1]), peppers())),
        ("mobile", platform_token(mobile_token(), peppers())),
    ]
    assert {token.pepper_version for token in LoanToken.objects.all()} == {peppers().version}
    assert ContributedLoans.objects.get(institution=cast.alpha.institution).last_contributed_at is not None
    event = AuditEvent.objects.get(action=AuditAction.LOAN_CONTRIBUTE)
    assert (event.institution_id, event.subjects_count) == (cast.alpha.institution.pk, 2)


def test_identifiers_come_as_a_list_as_well(contributor):
    item = loan_item("LN-1", id_type=None, token=None)
    item["identifiers"] = [
        {"id_type": "mobile", "token": mobile_token()},
        {"id_type": "cnid", "token": member_token_of(PEOPLE[0])},
    ]

    response = contributor.post(URL, {"loans": [item]})

    assert response.status_code == 200, response.json()
    assert [id_type for id_type, _token in tokens_of(Loan.objects.get())] == ["mobile", "cnid"]


def test_the_database_holds_neither_member_tokens_nor_identifiers(contributor):
    contributor.post(URL, {"loans": [loan_item("LN-1", id_type_2="mobile", token_2=mobile_token())]})

    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM sharing_loantoken")
        stored = {bytes(row[0]) for row in cursor.fetchall()}
    assert bytes.fromhex(member_token_of(PEOPLE[0])) not in stored
    assert bytes.fromhex(mobile_token()) not in stored


@pytest.mark.parametrize("consent", [None, "", "   "])
def test_a_loan_without_a_consent_reference_is_refused(contributor, consent):
    item = loan_item("LN-1")
    item["consent_reference"] = consent
    if consent is None:
        del item["consent_reference"]

    response = contributor.post(URL, {"loans": [loan_item("LN-0"), item]})

    assert response.status_code == 400
    assert errors_of(response) == {("loans[1].consent_reference", "required")}
    assert "authorization" in response.json()["errors"][0]["message"]
    assert not Loan.objects.exists()
    assert not LoanToken.objects.exists()
    assert not ContributedLoans.objects.exists()


@pytest.mark.parametrize(
    ("consent", "code"),
    [
        ("x" * 129, "bad_consent_reference"),
        (12345, "bad_consent_reference"),
        ("AUTH 110105 19491231 002X", "identifier_in_label"),
        ("AUTH-\u202e1", "control_character"),
        ("AUTH\x00", "unstorable_text"),  # refused by the JSON parser itself (config.parsers)
        ("AUTH\ud800", "unstorable_text"),
    ],
)
def test_a_consent_reference_is_a_short_label_without_an_identifier(contributor, consent, code):
    body = json.dumps({"loans": [loan_item("LN-1", consent_reference=consent)]})  # a lone surrogate escaped

    response = contributor.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert errors_of(response) == {("loans[0].consent_reference", code)}
    assert "110105" not in response.content.decode()
    assert not Loan.objects.exists()


def test_bad_items_refuse_the_whole_batch_with_an_error_per_field(contributor):
    batch = [
        loan_item("OK-1"),
        loan_item("BAD-1", opened_on="2026-05-01", closed_on="2026-04-30"),
        loan_item("BAD-2", amount_band="huge"),
        loan_item("BAD-3", id_type_2="cnid", token_2=member_token_of(PEOPLE[1])),
        loan_item("BAD-4", product="mortgage", opened_on="2999-01-01", colour="red"),
    ]

    response = contributor.post(URL, {"loans": batch})

    assert response.status_code == 400
    assert errors_of(response) == {
        ("loans[1].closed_on", "closed_before_opened"),
        ("loans[2].amount_band", "unknown_amount_band"),
        ("loans[3].id_type_2", "duplicate_id_type"),
        ("loans[4].product", "unknown_product"),
        ("loans[4].opened_on", "future_date"),
        ("loans[4].colour", "unknown_field"),
    }
    assert not Loan.objects.exists()
    assert not LoanToken.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"reference": None}, "reference", "required"),
        ({"reference": "has spaces"}, "reference", "bad_reference"),
        ({"reference": "LN-13800138000"}, "reference", "identifier_in_label"),
        ({"reference": "11010519491231002X"}, "reference", "identifier_in_label"),
        ({"product": None}, "product", "required"),
        ({"amount_band": None}, "amount_band", "required"),
        ({"amount_band": 3}, "amount_band", "unknown_amount_band"),
        ({"opened_on": None}, "opened_on", "required"),
        ({"opened_on": "2026-02-30"}, "opened_on", "bad_date"),
        ({"closed_on": "2030-01-01"}, "closed_on", "future_date"),
        ({"opened_on": "2019-01-01", "closed_on": "2021-06-30"}, "closed_on", "past_loan_retention"),
        ({"token": "AB" * 32}, "token", "bad_token"),
        ({"id_type": "ssn"}, "id_type", "unknown_id_type"),
        ({"id_type_2": "mobile"}, "token_2", "required"),
        ({"identifiers": []}, "identifiers", "identifier_forms"),
    ],
)
def test_refuses_each_kind_of_bad_field(contributor, fields, field, code):
    response = contributor.post(URL, {"loans": [loan_item(**{"reference": "LN-1", **fields})]})

    assert response.status_code == 400
    assert errors_of(response) == {(f"loans[0].{field}", code)}


def test_six_identifiers_are_too_many(contributor):
    item = loan_item("LN-1", id_type=None, token=None)
    item["identifiers"] = [{"id_type": "cnid", "token": member_token_of(person)} for person in PEOPLE] + [
        {"id_type": "mobile", "token": mobile_token()}
    ]

    response = contributor.post(URL, {"loans": [item]})

    assert errors_of(response) == {("loans[0].identifiers", "too_many_identifiers")}


def test_a_loan_closed_long_ago_and_before_it_opened_is_told_both(contributor):
    response = contributor.post(URL, {"loans": [loan_item("LN-1", opened_on="2021-01-01", closed_on="2020-01-01")]})

    assert sorted(error["code"] for error in response.json()["errors"]) == [
        "closed_before_opened",
        "past_loan_retention",
    ]


def test_the_same_reference_twice_in_one_batch_is_refused(contributor):
    response = contributor.post(URL, {"loans": [loan_item("LN-1"), loan_item("LN-1")]})

    assert errors_of(response) == {("loans[1].reference", "duplicate_reference")}
    assert not Loan.objects.exists()


@pytest.mark.parametrize("body", [{}, {"loans": "many"}, [], {"loans": []}, {"loans": [1]}])
def test_a_malformed_batch_is_refused(contributor, body):
    response = contributor.post(URL, body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].startswith("loans")


def test_a_batch_holds_at_most_a_thousand_loans(contributor):
    response = contributor.post(URL, {"loans": [loan_item(f"LN-{n}") for n in range(1001)]})

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "batch_size"


def test_sending_a_reference_again_closes_the_loan_and_replaces_its_identifiers(contributor):
    contributor.post(URL, {"loans": [loan_item("LN-1", id_type_2="mobile", token_2=mobile_token())]})
    first = Loan.objects.get()

    response = contributor.post(
        URL,
        {
            "loans": [
                loan_item("LN-1", token=member_token_of(PEOPLE[2]), closed_on="2026-06-30", consent_reference="AUTH-2")
            ]
        },
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["created"], response.json()["updated"]) == (0, 1)
    assert response.json()["loans"] == [{"reference": "LN-1", "id": first.pk, "open": False}]
    loan = Loan.objects.get()
    assert (str(loan.closed_on), str(loan.expires_on), loan.consent_reference) == ("2026-06-30", "2031-06-30", "AUTH-2")
    assert tokens_of(loan) == [("cnid", platform_token(member_token_of(PEOPLE[2]), peppers()))]


def test_a_closed_loan_sent_open_again_is_kept_while_open(contributor):
    contributor.post(URL, {"loans": [loan_item("LN-1", closed_on="2026-06-30")]})

    contributor.post(URL, {"loans": [loan_item("LN-1")]})

    loan = Loan.objects.get()
    assert (loan.closed_on, loan.expires_on) == (None, None)


def test_an_idempotency_key_replays_the_first_answer(contributor):
    batch = {"loans": [loan_item("LN-1")]}
    first = contributor.post(URL, batch, HTTP_IDEMPOTENCY_KEY="loans-2026-12-03-001")

    again = contributor.post(URL, batch, HTTP_IDEMPOTENCY_KEY="loans-2026-12-03-001")

    assert again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Loan.objects.count() == 1
    events = AuditEvent.objects.filter(action=AuditAction.LOAN_CONTRIBUTE).order_by("id")
    assert [(event.subjects_count, event.reason) for event in events] == [(1, ""), (None, "idempotent_replay")]
    assert IdempotentRequest.objects.get().endpoint == "loans"


def test_an_idempotency_key_cannot_be_reused_for_another_batch(contributor):
    contributor.post(URL, {"loans": [loan_item("LN-1")]}, HTTP_IDEMPOTENCY_KEY="k-1")

    response = contributor.post(URL, {"loans": [loan_item("LN-2")]}, HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert not Loan.objects.filter(reference="LN-2").exists()


def test_a_key_of_a_flags_batch_is_not_a_key_of_loans(cast, contributor):
    """The same Idempotency-Key on the two endpoints names two requests, as on flags and uploads."""
    contributor.post(URL, {"loans": [loan_item("LN-1")]}, HTTP_IDEMPOTENCY_KEY="k-1")

    response = contributor.post(URL, {"loans": [loan_item("LN-1")]}, HTTP_IDEMPOTENCY_KEY="k-1")

    assert response["Idempotent-Replayed"] == "true"
    assert IdempotentRequest.objects.filter(endpoint="flags").count() == 0


def test_a_key_with_the_loans_scope_reports_and_reads(cast, key_client):
    client, key = key_client(cast.alpha.institution, scopes=[Scope.LOANS_WRITE])

    assert client.post(URL, {"loans": [loan_item("LN-1")]}).status_code == 200
    assert client.get(URL).json()["results"][0]["reference"] == "LN-1"
    event = AuditEvent.objects.get(action=AuditAction.LOAN_CONTRIBUTE)
    assert (event.actor_key_id, event.institution_id) == (key.pk, cast.alpha.institution.pk)


@pytest.mark.parametrize("scope", [Scope.FLAGS_WRITE, Scope.MATCH])
def test_a_key_without_the_loans_scope_is_refused(cast, key_client, scope):
    client, _ = key_client(cast.alpha.institution, scopes=[scope])

    response = client.post(URL, {"loans": [loan_item("LN-1")]})

    assert response.status_code == 403
    assert response.json()["code"] == "missing_scope"
    assert client.get(URL).status_code == 403


@pytest.mark.parametrize("role", ["analyst", "institution_admin", "auditor"])
def test_only_contributors_report_loans(cast, client_for, role):
    response = client_for(cast.alpha[role]).post(URL, {"loans": [loan_item("LN-1")]})

    assert response.status_code == 403


def test_auditors_read_their_institutions_loans(cast, client_for, contributor):
    contributor.post(URL, {"loans": [loan_item("LN-1")]})

    assert client_for(cast.alpha["auditor"]).get(URL).json()["results"][0]["reference"] == "LN-1"


def test_regulators_and_operators_read_no_loans(cast, client_for, contributor):
    contributor.post(URL, {"loans": [loan_item("LN-1")]})

    assert client_for(cast.regulator["regulator_staff"]).get(URL).status_code == 403
    assert client_for(cast.operator["operator"]).get(URL).status_code == 403


def test_a_loan_shows_its_identifier_types_never_its_tokens(contributor):
    contributor.post(URL, {"loans": [loan_item("LN-1", id_type_2="mobile", token_2=mobile_token())]})
    loan = Loan.objects.get()

    response = contributor.get(f"{URL}/{loan.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["id_types"] == ["cnid", "mobile"]
    assert (body["reference"], body["product"], body["consent_reference"]) == ("LN-1", "cash_loan", "AUTH-2026-0001")
    assert "token" not in response.content.decode()
    assert member_token_of(PEOPLE[0]) not in response.content.decode()
    assert AuditEvent.objects.get(action=AuditAction.LOAN_VIEW).target_id == str(loan.pk)


def test_another_member_can_neither_list_nor_read_a_loan(cast, client_for, contributor):
    contributor.post(URL, {"loans": [loan_item("LN-1")]})
    loan = Loan.objects.get()
    beta = client_for(cast.beta["contributor"])

    assert beta.get(f"{URL}/{loan.pk}").status_code == 404
    assert beta.get(URL).json()["results"] == []
    assert beta.get(URL, {"reference": "LN-1"}).json()["results"] == []


def test_the_same_reference_at_two_members_is_two_loans(cast, client_for, contributor):
    contributor.post(URL, {"loans": [loan_item("LN-1")]})
    client_for(cast.beta["contributor"]).post(URL, {"loans": [loan_item("LN-1", closed_on="2026-04-01")]})

    assert Loan.objects.filter(reference="LN-1").count() == 2
    assert Loan.objects.get(institution=cast.alpha.institution).closed_on is None


def test_the_list_filters_by_open_product_dates_and_reference(contributor):
    contributor.post(
        URL,
        {
            "loans": [
                loan_item("LN-1", opened_on="2026-01-10"),
                loan_item("LN-2", opened_on="2026-02-10", closed_on="2026-03-01"),
                loan_item("LN-3", opened_on="2026-03-10", product="instalment"),
            ]
        },
    )

    def listed(**query: str) -> list[str]:
        response = contributor.get(URL, query)
        assert response.status_code == 200, response.json()
        return [loan["reference"] for loan in response.json()["results"]]

    assert listed() == ["LN-3", "LN-2", "LN-1"]
    assert listed(open="true") == ["LN-3", "LN-1"]
    assert listed(open="false") == ["LN-2"]
    assert listed(product="instalment") == ["LN-3"]
    assert listed(product="cash_loan", opened_after="2026-02-01") == ["LN-2"]
    assert listed(opened_before="2026-02-10") == ["LN-2", "LN-1"]
    assert listed(reference="LN-1") == ["LN-1"]
    assert contributor.get(URL, {"product": "mortgage"}).status_code == 400
    assert contributor.get(URL, {"opened_after": "soon"}).status_code == 400


def test_a_list_costs_the_same_few_queries_however_many_loans(contributor, django_assert_max_num_queries):
    contributor.post(
        URL, {"loans": [loan_item(f"LN-{n}", id_type_2="mobile", token_2=mobile_token()) for n in range(50)]}
    )

    with django_assert_max_num_queries(12):
        response = contributor.get(URL)

    assert len(response.json()["results"]) == 50
    assert all(loan["id_types"] == ["cnid", "mobile"] for loan in response.json()["results"])


# Values a hostile or careless client sends: wrong types, NUL, lone surrogates, huge numbers and strings.
_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=80),
    st.sampled_from(["", "2026-02-29", "2026-03-01", "cash_loan", "lt_10k", "cnid", "\x00", "\ud800", "9" * 400]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)
_IDENTIFIER = st.fixed_dictionaries(
    {"id_type": st.sampled_from(["cnid", "mobile", "passport", "x"]), "token": st.sampled_from(["ab" * 32, "z"])}
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=st.dictionaries(
        st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)),
        st.one_of(_ANY, st.lists(_IDENTIFIER, max_size=6)),
        max_size=6,
    )
)
def test_no_item_gives_a_server_error(contributor, changes):
    body = json.dumps({"loans": [{**loan_item("LN-H"), **changes}]})

    response = contributor.post(URL, body, content_type="application/json")

    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert all(error["field"].startswith("loans") for error in response.json()["errors"])
