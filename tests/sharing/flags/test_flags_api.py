"""POST/GET/PATCH /api/v1/flags: contributing, reading, resolving and withdrawing a member's own flags."""

import hashlib

import pytest
from django.conf import settings
from django.db import connection

from accounts.choices import AuditAction, Scope
from accounts.models import AuditEvent
from sharing.keys.tokens import peppers, platform_token
from sharing.models import Flag, IdempotentRequest
from tests.factories import flag_item, member_token_of, stored_token

pytestmark = pytest.mark.django_db

URL = "/api/v1/flags"


@pytest.fixture
def contributor(cast, client_for):
    return client_for(cast.alpha["contributor"])


def test_contributes_a_batch_and_stores_the_platform_token_not_the_member_token(cast, contributor):
    response = contributor.post(URL, {"flags": [flag_item("A-1"), flag_item("A-2", category="fraud_suspected")]})

    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 2
    assert response.json()["updated"] == 0
    assert [item["reference"] for item in response.json()["flags"]] == ["A-1", "A-2"]
    flag = Flag.objects.get(reference="A-1")
    assert flag.institution == cast.alpha.institution
    member = member_token_of("11010519491231002X")
    assert stored_token(flag) == platform_token(member, peppers())
    assert list(flag.tokens.values_list("id_type", "pepper_version")) == [("cnid", settings.PLATFORM_PEPPERS.version)]
    assert str(flag.expires_on) == "2031-03-01"
    assert flag.status == "active"


def test_sending_a_reference_again_updates_its_flag(contributor):
    contributor.post(URL, {"flags": [flag_item("A-1")]})

    response = contributor.post(URL, {"flags": [flag_item("A-1", category="default", end_date="2026-05-01")]})

    assert response.json()["created"] == 0
    assert response.json()["updated"] == 1
    assert Flag.objects.count() == 1
    flag = Flag.objects.get()
    assert (flag.category, flag.status, str(flag.end_date), str(flag.expires_on)) == (
        "default",
        "resolved",
        "2026-05-01",
        "2031-05-01",
    )


def test_the_same_reference_at_two_members_is_two_flags(cast, client_for):
    client_for(cast.alpha["contributor"]).post(URL, {"flags": [flag_item("SHARED-REF")]})
    client_for(cast.beta["contributor"]).post(URL, {"flags": [flag_item("SHARED-REF")]})

    assert Flag.objects.filter(reference="SHARED-REF").count() == 2


def test_one_bad_item_refuses_the_whole_batch_with_an_error_per_field(contributor):
    batch = [
        flag_item("OK-1"),
        flag_item("BAD-1", token="11010519491231002X"),
        flag_item("BAD-2", category="late", event_date="2999-01-01"),
        flag_item("BAD-3", notice_date=None, notice_channel=None),
    ]

    response = contributor.post(URL, {"flags": batch})

    assert response.status_code == 400
    errors = {(error["field"], error["code"]) for error in response.json()["errors"]}
    assert errors == {
        ("flags[1].token", "bad_token"),
        ("flags[2].category", "unknown_category"),
        ("flags[2].event_date", "future_date"),
        ("flags[3].notice_date", "notice_required"),
        ("flags[3].notice_channel", "notice_required"),
    }
    assert "11010519491231002X" not in response.content.decode()
    assert not Flag.objects.exists()


def test_identity_theft_needs_no_prior_notice(contributor):
    response = contributor.post(
        URL, {"flags": [flag_item("VICTIM-1", category="identity_theft", notice_date=None, notice_channel=None)]}
    )

    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"token": "AB" * 32}, "token", "bad_token"),
        ({"token": "ab" * 31}, "token", "bad_token"),
        ({"id_type": "ssn"}, "id_type", "unknown_id_type"),
        ({"event_date": "2026-02-30"}, "event_date", "bad_date"),
        ({"event_date": "01/03/2026"}, "event_date", "bad_date"),
        ({"end_date": "2026-01-01"}, "end_date", "end_before_event"),
        ({"event_date": "2019-01-01", "end_date": "2020-06-30"}, "end_date", "past_retention"),
        ({"amount_band": "huge"}, "amount_band", "unknown_amount_band"),
        ({"notice_channel": "pigeon"}, "notice_channel", "unknown_notice_channel"),
        ({"details": [1, 2]}, "details", "bad_details"),
        ({"details": {"note": "x" * 5000}}, "details", "details_too_large"),
        ({"reference": "no spaces allowed"}, "reference", "bad_reference"),
        ({"colour": "red"}, "colour", "unknown_field"),
        ({"reference": None}, "reference", "required"),
    ],
)
def test_refuses_each_kind_of_bad_field(contributor, fields, field, code):
    response = contributor.post(URL, {"flags": [flag_item(**{"reference": "X-1", **fields})]})

    assert response.status_code == 400
    assert {(error["field"], error["code"]) for error in response.json()["errors"]} == {(f"flags[0].{field}", code)}


def test_the_same_reference_twice_in_one_batch_is_refused(contributor):
    response = contributor.post(URL, {"flags": [flag_item("A-1"), flag_item("A-1")]})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "flags[1].reference"
    assert response.json()["errors"][0]["code"] == "duplicate_reference"


@pytest.mark.parametrize("count", [0, 1001])
def test_a_batch_holds_one_to_a_thousand_flags(contributor, count):
    response = contributor.post(URL, {"flags": [flag_item(f"R-{n}") for n in range(count)]})

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "batch_size"


def test_a_body_over_the_size_limit_is_refused(contributor, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000

    response = contributor.post(URL, {"flags": [flag_item(f"R-{n}") for n in range(100)]})

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    assert not Flag.objects.exists()


def test_a_thousand_flags_go_in_one_request(contributor):
    response = contributor.post(URL, {"flags": [flag_item(f"R-{n}") for n in range(1000)]})

    assert response.status_code == 200
    assert Flag.objects.count() == 1000


def test_an_idempotency_key_replays_the_first_answer(contributor):
    batch = {"flags": [flag_item("A-1")]}
    first = contributor.post(URL, batch, HTTP_IDEMPOTENCY_KEY="batch-2026-11-29-001")

    again = contributor.post(URL, batch, HTTP_IDEMPOTENCY_KEY="batch-2026-11-29-001")

    assert again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Flag.objects.count() == 1
    events = AuditEvent.objects.filter(action=AuditAction.FLAG_CONTRIBUTE).order_by("id")
    assert [(event.subjects_count, event.reason) for event in events] == [(1, ""), (None, "idempotent_replay")]


def test_the_platform_keeps_only_a_hash_of_an_idempotency_key(contributor):
    """A member that makes keys of a borrower's identifier leaves no identifier on the platform."""
    batch = {"flags": [flag_item("A-1")]}
    contributor.post(URL, batch, HTTP_IDEMPOTENCY_KEY="11010519491231002X")

    again = contributor.post(URL, batch, HTTP_IDEMPOTENCY_KEY="11010519491231002X")

    assert again["Idempotent-Replayed"] == "true"
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == [
        hashlib.sha256(b"11010519491231002X").hexdigest()
    ]


def test_an_idempotency_key_cannot_be_reused_for_another_batch(contributor):
    contributor.post(URL, {"flags": [flag_item("A-1")]}, HTTP_IDEMPOTENCY_KEY="k-1")

    response = contributor.post(URL, {"flags": [flag_item("A-2")]}, HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert not Flag.objects.filter(reference="A-2").exists()


def test_a_key_with_the_flags_scope_contributes(cast, key_client):
    client, key = key_client(cast.alpha.institution, scopes=[Scope.FLAGS_WRITE])

    response = client.post(URL, {"flags": [flag_item("A-1")]})

    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AuditAction.FLAG_CONTRIBUTE)
    assert (event.actor_key_id, event.institution_id, event.subjects_count) == (key.pk, cast.alpha.institution.pk, 1)


def test_a_key_without_the_flags_scope_is_refused(cast, key_client):
    client, _ = key_client(cast.alpha.institution, scopes=[Scope.MATCH])

    response = client.post(URL, {"flags": [flag_item("A-1")]})

    assert response.status_code == 403
    assert response.json()["code"] == "missing_scope"


@pytest.mark.parametrize("role", ["analyst", "institution_admin"])
def test_only_contributors_contribute(cast, client_for, role):
    response = client_for(cast.alpha[role]).post(URL, {"flags": [flag_item("A-1")]})

    assert response.status_code == 403


def test_regulators_and_operators_read_no_flags(cast, client_for, contributor):
    contributor.post(URL, {"flags": [flag_item("A-1")]})

    assert client_for(cast.regulator["regulator_staff"]).get(URL).status_code == 403
    assert client_for(cast.operator["operator"]).get(URL).status_code == 403


def test_the_owner_reads_the_details_in_plain_text_and_the_database_holds_ciphertext(contributor):
    contributor.post(URL, {"flags": [flag_item("A-1")]})
    flag = Flag.objects.get()

    response = contributor.get(f"{URL}/{flag.pk}")

    assert response.json()["details"] == {"amount": 32000, "product": "consumer loan", "note": "逾期"}
    assert "token" not in response.json()
    with connection.cursor() as cursor:
        cursor.execute("SELECT details FROM sharing_flag WHERE id = %s", [flag.pk])
        stored = bytes(cursor.fetchone()[0])
    assert b"consumer" not in stored
    assert "逾期".encode() not in stored
    assert b"32000" not in stored


def test_details_do_not_open_under_another_reference(contributor):
    from sharing.keys import datakeys as keys
    from sharing.keys import envelope

    contributor.post(URL, {"flags": [flag_item("A-1"), flag_item("A-2", details={"note": "other"})]})
    one, two = Flag.objects.order_by("reference")
    Flag.objects.filter(pk=two.pk).update(details=one.details)
    two.refresh_from_db()

    with pytest.raises(envelope.CannotOpen):
        keys.details_of(two)


def test_another_institution_cannot_read_change_or_detect_a_flag(cast, client_for, contributor):
    contributor.post(URL, {"flags": [flag_item("A-1")]})
    flag = Flag.objects.get()
    beta = client_for(cast.beta["contributor"])

    assert beta.get(f"{URL}/{flag.pk}").status_code == 404
    assert beta.patch(f"{URL}/{flag.pk}", {"status": "withdrawn", "reason": "mine now"}).status_code == 404
    assert beta.get(URL).json()["results"] == []
    assert beta.get(URL, {"reference": "A-1"}).json()["results"] == []
    flag.refresh_from_db()
    assert flag.status == "active"


def test_lists_own_flags_newest_first_with_filters(contributor):
    contributor.post(
        URL,
        {
            "flags": [
                flag_item("A-1", event_date="2026-01-10"),
                flag_item("A-2", category="fraud_confirmed", event_date="2026-02-10"),
                flag_item("A-3", category="default", event_date="2026-03-10", end_date="2026-04-01"),
            ]
        },
    )

    everything = contributor.get(URL).json()["results"]
    frauds = contributor.get(URL, {"category": "fraud_confirmed"}).json()["results"]
    resolved = contributor.get(URL, {"status": "resolved"}).json()["results"]
    early = contributor.get(URL, {"event_before": "2026-02-15"}).json()["results"]

    assert [flag["reference"] for flag in everything] == ["A-3", "A-2", "A-1"]
    assert "details" not in everything[0]
    assert everything[0]["has_details"] is True
    assert [flag["reference"] for flag in frauds] == ["A-2"]
    assert [flag["reference"] for flag in resolved] == ["A-3"]
    assert {flag["reference"] for flag in early} == {"A-1", "A-2"}


def test_the_list_pages_with_a_cursor_in_constant_queries(contributor, django_assert_max_num_queries):
    contributor.post(URL, {"flags": [flag_item(f"R-{n:03}") for n in range(120)]})

    with django_assert_max_num_queries(12):
        first = contributor.get(URL, {"page_size": 50}).json()
    second = contributor.get(first["next"]).json()

    assert len(first["results"]) == 50
    assert first["results"][0]["reference"] == "R-119"
    assert second["results"][0]["reference"] == "R-069"


def test_resolving_sets_the_end_and_moves_the_expiry(contributor):
    contributor.post(URL, {"flags": [flag_item("A-1")]})
    flag = Flag.objects.get()

    response = contributor.patch(f"{URL}/{flag.pk}", {"status": "resolved", "end_date": "2026-06-30"})

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["expires_on"]) == ("resolved", "2031-06-30")
    assert AuditEvent.objects.filter(action=AuditAction.FLAG_RESOLVE, target_id=str(flag.pk)).exists()


def test_resolving_needs_an_end_date_on_or_after_the_event(contributor):
    contributor.post(URL, {"flags": [flag_item("A-1")]})
    flag = Flag.objects.get()

    missing = contributor.patch(f"{URL}/{flag.pk}", {"status": "resolved"})
    early = contributor.patch(f"{URL}/{flag.pk}", {"status": "resolved", "end_date": "2025-01-01"})

    assert missing.json()["errors"][0]["field"] == "end_date"
    assert early.json()["errors"][0]["code"] == "end_before_event"


def test_withdrawing_destroys_the_details_at_once(contributor):
    contributor.post(URL, {"flags": [flag_item("A-1")]})
    flag = Flag.objects.get()

    response = contributor.patch(f"{URL}/{flag.pk}", {"status": "withdrawn", "reason": "filed in error"})

    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert response.json()["details"] is None
    assert response.json()["has_details"] is False
    assert response.json()["details_destroyed_at"] is not None
    flag.refresh_from_db()
    assert flag.details is None
    assert AuditEvent.objects.filter(action=AuditAction.FLAG_WITHDRAW, target_id=str(flag.pk)).exists()


def test_withdrawing_needs_a_reason(contributor):
    contributor.post(URL, {"flags": [flag_item("A-1")]})

    response = contributor.patch(f"{URL}/{Flag.objects.get().pk}", {"status": "withdrawn"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "reason"


def test_reading_is_audited(contributor):
    contributor.post(URL, {"flags": [flag_item("A-1")]})
    flag = Flag.objects.get()

    contributor.get(URL)
    contributor.get(f"{URL}/{flag.pk}")

    assert AuditEvent.objects.filter(action=AuditAction.FLAG_LIST).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.FLAG_VIEW, target_id=str(flag.pk)).count() == 1


def test_operators_find_no_flags_details_or_keys_in_the_admin(cast, contributor):
    from django.test import Client

    contributor.post(URL, {"flags": [flag_item("A-1")]})
    operator = Client()
    operator.force_login(cast.operator["operator"])

    index = operator.get("/admin/")

    assert index.status_code == 200
    for page in ("/admin/sharing/flag/", "/admin/sharing/datakey/", "/admin/sharing/upload/"):
        assert operator.get(page).status_code == 404
    assert "逾期" not in index.content.decode()
    assert b"consumer loan" not in index.content
