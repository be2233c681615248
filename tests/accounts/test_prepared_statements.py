"""The statements every API request runs are prepared once per connection and planned once, on PostgreSQL:
an API key's look-up, a query's lookup and the audit event's insert (accounts/prepared.py)."""

import pytest
from django.db import connection

from accounts import prepared
from accounts.choices import Scope
from sharing.flags import services
from tests.factories import PEOPLE, flag_item, member_token_of

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite prepares nothing of ours")

STATEMENTS = {
    "lookup": "WITH contributed AS",
    "key": "SELECT k.id, k.institution_id",
    "event": "INSERT INTO accounts_auditevent",
}


def prepared_statements() -> dict[str, tuple[int, int]]:
    """Ours among the connection's prepared statements: name -> (generic plans, custom plans)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        rows = cursor.fetchall()
    return {
        name: (generic, custom)
        for statement, generic, custom in rows
        for name, start in STATEMENTS.items()
        if statement.startswith(start)
    }


@pytest.fixture
def asker(cast, key_client):
    services.contribute(cast.alpha.institution, [flag_item("ALPHA-OWN", category="overdue_90")])
    services.contribute(cast.beta.institution, [flag_item("BETA-1", token=member_token_of(PEOPLE[0]))])
    client, _ = key_client(cast.alpha.institution, scopes=[Scope.MATCH])
    return client


def query(client):
    subject = {"correlation_id": "C-1", "id_type": "cnid", "token": member_token_of(PEOPLE[0])}
    answer = client.post("/api/v1/queries", {"purpose": "post_loan_review", "subjects": [subject]}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["subjects"][0]["hit"] is True
    return answer


@on_postgresql
@pytest.mark.django_db
def test_a_request_prepares_its_statements_once_and_plans_them_once(asker):
    for _ in range(3):
        query(asker)

    statements = prepared_statements()
    assert statements.keys() == {"lookup", "key", "event"}
    # Prepared on the first request, then only executed: every plan generic, none made for the values.
    assert statements["lookup"] == (3, 0)
    assert statements["key"] == (3, 0)


@on_postgresql
@pytest.mark.django_db
def test_a_connection_makes_its_statements_again_once_they_are_old(asker, monkeypatch):
    query(asker)
    assert prepared_statements()["lookup"] == (1, 0)

    made = connection.connection.riskshare_prepared_at
    monkeypatch.setattr(prepared, "clock", lambda: made + prepared.MAX_AGE + 1)
    query(asker)

    # Dropped and prepared again: the plans made before are gone, one new plan each.
    assert prepared_statements()["lookup"] == (1, 0)
    assert connection.connection.riskshare_prepared_at == made + prepared.MAX_AGE + 1


@on_postgresql
@pytest.mark.django_db
def test_switched_off_nothing_is_prepared(asker, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    for _ in range(2):
        query(asker)

    assert prepared_statements() == {}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # A name used twice has one number; the values go in the order of the numbers.
        ("a = %(x)s AND b = %(y)s OR a = %(x)s", ("a = $1 AND b = $2 OR a = $1", ("x", "y"))),
        ("VALUES (%s, %s, %s)", ("VALUES ($1, $2, $3)", 3)),
        ("b LIKE 'x%%' AND c = %s", ("b LIKE 'x%' AND c = $1", 1)),
        ("SELECT 1", ("SELECT 1", 0)),
    ],
)
def test_placeholders_are_numbered_once_per_statement(sql, expected):
    assert prepared.numbered(sql) == expected


def test_a_statement_takes_named_or_positional_parameters_not_both():
    with pytest.raises(ValueError, match="not both"):
        prepared.numbered("a = %(x)s AND b = %s")
