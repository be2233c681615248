"""No request body gives a 500: deep nesting and text no field can store are refused at the door."""

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.choices import Scope
from config.parsers import MAX_DEPTH, depth_of, unstorable_paths
from memberkit.text import escaped, unstorable

pytestmark = pytest.mark.django_db

# Each JSON endpoint, with a caller allowed to send it a body: the body is read after the permission check.
JSON_ENDPOINTS = [
    ("key", "post", "/api/v1/flags"),
    ("key", "patch", "/api/v1/flags/1"),
    ("key", "post", "/api/v1/queries"),
    ("admin", "post", "/api/v1/api-keys"),
    ("admin", "patch", "/api/v1/api-keys/{key}"),
    ("admin", "post", "/api/v1/users"),
    ("admin", "patch", "/api/v1/users/{user}"),
    ("operator", "post", "/api/v1/institutions"),
    ("operator", "patch", "/api/v1/institutions/{institution}"),
    ("regulator", "post", "/api/v1/reports"),
]


@pytest.fixture
def member_key(cast, key_client) -> APIClient:
    client: APIClient
    client, _key = key_client(cast.alpha.institution, scopes=[Scope.FLAGS_WRITE, Scope.MATCH, Scope.INSPECTIONS])
    return client


def send(client: APIClient, method: str, path: str, body: str | bytes, content_type: str = "application/json") -> Any:
    return getattr(client, method)(path, data=body, content_type=content_type)


@pytest.mark.parametrize(("caller", "method", "path"), JSON_ENDPOINTS)
def test_a_body_nested_100000_deep_answers_400_not_500(client_for, cast, key_client, member_key, caller, method, path):
    _client, key = key_client(cast.alpha.institution)
    path = path.format(key=key.pk, user=cast.alpha["analyst"].pk, institution=cast.alpha.institution.pk)
    people = {
        "admin": cast.alpha["institution_admin"],
        "operator": cast.operator["operator"],
        "regulator": cast.regulator["regulator_staff"],
    }
    client = member_key if caller == "key" else client_for(people[caller])

    response = send(client, method, path, "[" * 100_000 + "]" * 100_000)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "nesting_too_deep"


def test_nesting_up_to_the_limit_is_read_and_one_level_more_is_refused(member_key):
    def flag_with_details_nested(levels: int) -> str:
        details = "{}"
        for _ in range(levels):
            details = '{"a":' + details + "}"
        return '{"flags":[{"details":' + details + "}]}"

    # The body's own object, the list of flags and the flag are three levels.
    accepted = member_key.post(
        "/api/v1/flags", data=flag_with_details_nested(MAX_DEPTH - 4), content_type="application/json"
    )
    refused = member_key.post(
        "/api/v1/flags", data=flag_with_details_nested(MAX_DEPTH - 3), content_type="application/json"
    )

    assert accepted.status_code == 400
    assert accepted.json()["code"] == "validation_error"  # read, then refused for its missing fields
    assert refused.status_code == 400
    assert refused.json()["code"] == "nesting_too_deep"


def test_a_lone_surrogate_in_a_choice_field_is_named_not_echoed(member_key):
    response = member_key.post(
        "/api/v1/queries", data='{"purpose":"\\ud800","subjects":[]}', content_type="application/json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"] == [{"field": "purpose", "code": "unstorable_text", "message": body["errors"][0]["message"]}]


def test_every_unstorable_string_is_named_by_its_path_keys_included(member_key):
    body = (
        '{"flags":[{"reference":"ok"},{"reference":"a\\u0000b","details":{"n":"\\udfff","\\ud800k":1}}],'
        '"purpose":["x","\\udc00"]}'
    )

    response = member_key.post("/api/v1/flags", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert {(error["field"], error["code"]) for error in response.json()["errors"]} == {
        ("flags[1].reference", "unstorable_text"),
        ("flags[1].details.n", "unstorable_text"),
        ("flags[1].details.\\ud800k", "unstorable_text"),
        ("purpose[1]", "unstorable_text"),
    }


def test_a_body_that_is_not_utf8_or_not_json_is_a_parse_error(member_key):
    for body in [b"\xff\xfe{}", b'{"a": "\xed\xa0\x80"}', b"{", b"[1e999]", b"[NaN]", b"[" + b"1" * 5000 + b"]"]:
        response = send(member_key, "post", "/api/v1/flags", body)

        assert response.status_code == 400, body
        assert response.json()["code"] == "parse_error", body


def test_a_multipart_field_that_decodes_to_unstorable_text_is_refused(client_for, cast):
    client = client_for(cast.alpha["analyst"])
    boundary = "riskshare-boundary"
    # A declared charset of unicode_escape turns the six characters \ud800 into a lone surrogate.
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="portfolio"\r\n\r\nbook\\ud800\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\npost_loan\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n'
        "Content-Type: text/csv\r\n\r\ncorrelation_id,id_type,token\r\n",
        f"--{boundary}--\r\n",
    ]

    response = client.generic(
        "POST",
        "/api/v1/inspections",
        "".join(parts).encode(),
        content_type=f"multipart/form-data; boundary={boundary}; charset=unicode_escape",
    )

    assert response.status_code == 400
    assert [(error["field"], error["code"]) for error in response.json()["errors"]] == [
        ("portfolio", "unstorable_text")
    ]


def test_a_nul_in_a_multipart_field_or_file_name_never_reaches_the_database(client_for, cast):
    client = client_for(cast.alpha["analyst"])
    file = SimpleUploadedFile("p\x00.csv", b"correlation_id,id_type,token\r\n", content_type="text/csv")

    response = client.post(
        "/api/v1/inspections", {"portfolio": "bo\x00ok", "purpose": "post_loan", "file": file}, format="multipart"
    )

    assert response.status_code == 400
    assert ("portfolio", "unstorable_text") in {(e["field"], e["code"]) for e in response.json()["errors"]}


# Any JSON document, with keys and strings drawn from all of Unicode (lone surrogates and NUL included).
characters = st.sampled_from("\x00\ud800\udbff\udc00\udfff") | st.characters(codec=None, exclude_categories=())
text = st.text(characters, max_size=6)
documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=30,
)


def expected_paths(document: Any, path: str | None = None) -> set[str | None]:
    """The paths of unstorable text, computed the obvious (recursive) way."""
    found: set[str | None] = set()
    if isinstance(document, str):
        if unstorable(document):
            found.add(path)
    elif isinstance(document, dict):
        for key, value in document.items():
            child = f"{path}.{escaped(key)}" if path else escaped(key)
            if unstorable(key):
                found.add(child)
            found |= expected_paths(value, child)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found |= expected_paths(value, f"{path or ''}[{index}]")
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=documents, wrap=st.integers(min_value=0, max_value=2 * MAX_DEPTH))
def test_any_document_is_read_or_refused_with_400_naming_each_place(member_key, document, wrap):
    for _ in range(wrap):
        document = {"flags": document} if wrap % 2 else [document]
    # ensure_ascii writes surrogates and NUL as escapes, as a client's JSON library would.
    body = json.dumps(document, ensure_ascii=True)

    response = member_key.post("/api/v1/flags", data=body, content_type="application/json")

    assert response.status_code in (200, 201, 400, 409, 422)
    problem = response.json()
    if depth_of(document, MAX_DEPTH) > MAX_DEPTH:
        assert problem["code"] == "nesting_too_deep"
        return
    paths = expected_paths(document)
    named = {error["field"] for error in problem.get("errors", []) if error["code"] == "unstorable_text"}
    assert named == paths
    if paths:
        assert problem["code"] == "validation_error"
        assert {error["code"] for error in problem["errors"]} == {"unstorable_text"}


@given(document=documents)
def test_the_walk_finds_what_the_recursive_definition_finds(document):
    assert {path for path, _is_key in unstorable_paths(document)} == expected_paths(document)
