"""POST /api/v1/uploads checks the rule of the file's kind as soon as ``kind`` is read: a caller who may not send
files of that kind gets 403 whatever else is wrong with the form; one who may gets the form's 400s."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.choices import Scope
from sharing.models import Upload
from tests.factories import flag_item
from tests.sharing.flags.test_uploads import csv_bytes as flag_csv
from tests.sharing.loans.items import loan_item
from tests.sharing.loans.test_loan_uploads import csv_bytes as loan_csv

pytestmark = pytest.mark.django_db

URL = "/api/v1/uploads"
FLAG_KEY = [Scope.FLAGS_WRITE]
LOAN_KEY = [Scope.LOANS_WRITE]


def post(client, content, name, kind=None):
    form = {"file": SimpleUploadedFile(name, content)}
    if kind is not None:
        form["kind"] = kind
    return client.post(URL, form, format="multipart")


# What can be wrong with a form besides its kind, each refused with 400 (or 413) on its own.
BAD_FORMS = {
    "a header of the other kind": (
        lambda kind: flag_csv([flag_item("F-1")]) if kind == "loans" else loan_csv([]),
        "f.csv",
    ),
    "an empty file": (lambda kind: b"", "f.csv"),
    "no format, none in the name": (lambda kind: b"a,b\r\n", "f.txt"),
    "a first line that is not UTF-8": (lambda kind: b"\xff\xfe\r\n", "f.csv"),
}


@pytest.mark.parametrize("wrong", list(BAD_FORMS))
@pytest.mark.parametrize(("scopes", "kind"), [(FLAG_KEY, "loans"), (LOAN_KEY, "flags"), (LOAN_KEY, None)])
def test_a_key_without_the_kinds_scope_gets_403_whatever_is_wrong_with_the_rest(cast, key_client, scopes, kind, wrong):
    client, _key = key_client(cast.alpha.institution, scopes=scopes)
    content, name = BAD_FORMS[wrong]
    forbidden = kind or "flags"

    response = post(client, content(forbidden), name, kind)

    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "missing_scope"
    assert not Upload.objects.exists()


@pytest.mark.parametrize("wrong", list(BAD_FORMS))
@pytest.mark.parametrize(("scopes", "kind"), [(LOAN_KEY, "loans"), (FLAG_KEY, "flags"), (FLAG_KEY, None)])
def test_a_key_with_the_kinds_scope_is_told_what_is_wrong_with_the_form(cast, key_client, scopes, kind, wrong):
    client, _key = key_client(cast.alpha.institution, scopes=scopes)
    content, name = BAD_FORMS[wrong]

    response = post(client, content(kind or "flags"), name, kind)

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "validation_error"
    assert "kind" not in {error["field"] for error in response.json()["errors"]}


@pytest.mark.parametrize("scopes", [FLAG_KEY, LOAN_KEY])
def test_a_file_over_the_size_limit_of_a_forbidden_kind_gets_403_and_of_an_allowed_one_413(
    cast, key_client, settings, scopes
):
    settings.UPLOAD_MAX_BYTES = 1024
    client, _key = key_client(cast.alpha.institution, scopes=scopes)
    content = loan_csv([loan_item(f"LN-{n}") for n in range(30)])
    assert len(content) > 1024

    response = post(client, content, "loans.csv", "loans")

    assert response.status_code == (403 if scopes == FLAG_KEY else 413)
    assert not Upload.objects.exists()


def test_a_body_already_too_long_by_its_content_length_is_refused_before_its_form_is_read(cast, key_client, settings):
    settings.UPLOAD_MAX_BYTES = 1024
    client, _key = key_client(cast.alpha.institution, scopes=FLAG_KEY)

    response = post(client, b"x" * (1024 + 64 * 1024 + 1), "loans.csv", "loans")

    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"


@pytest.mark.parametrize("scopes", [FLAG_KEY, LOAN_KEY])
@pytest.mark.parametrize("kind", ["contracts", "FLAGS", "flags,loans"])
def test_an_unknown_kind_is_a_field_error_on_kind_whatever_the_key(cast, key_client, scopes, kind):
    client, _key = key_client(cast.alpha.institution, scopes=scopes)

    response = post(client, b"", "f.csv", kind)

    assert response.status_code == 400
    assert ("kind", "invalid_choice") in {(error["field"], error["code"]) for error in response.json()["errors"]}
    assert not Upload.objects.exists()


def test_a_contributor_sends_either_kind_and_is_told_what_is_wrong(cast, client_for):
    contributor = client_for(cast.alpha["contributor"])

    for kind in ("flags", "loans"):
        response = post(contributor, b"", "f.csv", kind)
        assert response.status_code == 400
        assert {error["field"] for error in response.json()["errors"]} == {"file"}
    assert post(contributor, loan_csv([loan_item("LN-1")]), "loans.csv", "loans").status_code == 202


@pytest.mark.parametrize("role", ["analyst", "auditor"])
def test_people_who_send_no_files_get_403_before_the_kind_is_read(cast, client_for, role):
    response = post(client_for(cast.alpha[role]), b"", "f.csv", "contracts")

    assert response.status_code == 403
