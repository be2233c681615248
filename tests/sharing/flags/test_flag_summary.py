"""Reconciliation: a member counts its flags, and one upload's rows, without paging through them."""

import pytest

from accounts.choices import AuditAction, Scope
from accounts.models import AuditEvent
from sharing.flags import services, uploads
from sharing.models import Flag, Upload
from tests.factories import UploadFactory, flag_item
from tests.sharing.flags.test_uploads import URL as UPLOADS
from tests.sharing.flags.test_uploads import upload_file

SUMMARY = "/api/v1/flags/summary"


@pytest.fixture
def book(cast):
    """Alpha: two 90-day overdues (one resolved) and a fraud; beta: one overdue, which alpha never counts."""
    services.contribute(
        cast.alpha.institution,
        [
            flag_item("A-1"),
            flag_item("A-2", end_date="2026-04-01"),
            flag_item("A-3", category="fraud_confirmed"),
        ],
    )
    services.contribute(cast.beta.institution, [flag_item("B-1")])


def test_counts_the_callers_flags_by_category_and_status(cast, client_for, book):
    answer = client_for(cast.alpha["auditor"]).get(SUMMARY)

    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "total": 3,
        "by_category": {"fraud_confirmed": 1, "overdue_90": 2},
        "by_status": {"active": 2, "resolved": 1},
        "cells": [
            {"category": "fraud_confirmed", "status": "active", "count": 1},
            {"category": "overdue_90", "status": "active", "count": 1},
            {"category": "overdue_90", "status": "resolved", "count": 1},
        ],
    }
    event = AuditEvent.objects.get(action=AuditAction.FLAG_SUMMARY)
    assert (event.institution_id, event.subjects_count) == (cast.alpha.institution.pk, 3)


def test_takes_the_lists_filters(cast, client_for, book):
    answer = client_for(cast.alpha["contributor"]).get(SUMMARY, {"status": "resolved"})

    assert answer.json()["total"] == 1
    assert answer.json()["by_category"] == {"overdue_90": 1}


def test_a_key_with_the_flags_scope_reconciles_and_an_empty_book_counts_nothing(cast, key_client):
    client, _key = key_client(cast.beta.institution, scopes=[Scope.FLAGS_WRITE])

    assert client.get(SUMMARY).json()["total"] == 0
    services.contribute(cast.beta.institution, [flag_item("B-1")])
    assert client.get(SUMMARY).json()["by_status"] == {"active": 1}


@pytest.mark.parametrize("role", ["analyst", "institution_admin"])
def test_only_flag_readers_count_flags(cast, client_for, book, role):
    assert client_for(cast.alpha[role]).get(SUMMARY).status_code == 403


def test_regulators_count_no_members_flags(cast, client_for, book):
    assert client_for(cast.regulator["regulator_staff"]).get(SUMMARY).status_code == 403


def test_an_uploads_summary_reconciles_its_rows(cast, client_for, settings):
    client = client_for(cast.alpha["contributor"])
    content = (
        "reference,id_type,token,category,event_date,notice_date,notice_channel\n"
        + "".join(f"R-{n},cnid,{flag_item()['token']},overdue_90,2026-03-01,2026-02-20,sms\n" for n in range(3))
        + "R-9,cnid,not-a-token,overdue_90,2026-03-01,2026-02-20,sms\n"
        + "R-0,cnid,"
        + flag_item()["token"]
        + ",fraud_confirmed,2026-03-01,2026-02-20,sms\n"
    ).encode()
    upload_id = upload_file(client, content).json()["id"]
    uploads.process(upload_id)

    answer = client.get(f"{UPLOADS}/{upload_id}/summary")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    upload = Upload.objects.get(pk=upload_id)
    assert body["upload"]["id"] == upload_id
    counts = (upload.created_count, upload.updated_count, upload.superseded_count, upload.rejected_count)
    assert counts == (3, 0, 1, 1)
    assert body["report_lines_by_code"] == {"bad_token": 1, "superseded": 1}
    assert body["flags"]["total"] == Flag.objects.filter(source_upload_id=upload_id).count() == 3
    assert body["flags"]["by_category"] == {"fraud_confirmed": 1, "overdue_90": 2}
    assert client.get(SUMMARY, {"upload": upload_id}).json() == body["flags"]


def test_another_institutions_upload_summary_answers_404(cast, client_for):
    upload = UploadFactory.create(institution=cast.alpha.institution)

    assert client_for(cast.alpha["auditor"]).get(f"{UPLOADS}/{upload.pk}/summary").status_code == 200
    assert client_for(cast.beta["auditor"]).get(f"{UPLOADS}/{upload.pk}/summary").status_code == 404
