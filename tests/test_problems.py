"""Every error has one shape (RFC 9457), and no stack trace reaches a caller."""

import json
from typing import Any

import pytest
from django.test import Client, RequestFactory
from rest_framework import serializers

from config.problems import field_errors
from config.urls import handler500

pytestmark = pytest.mark.django_db


def test_unknown_api_path_answers_a_problem(client):
    response = client.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
    assert response.json()["request_id"] == response["X-Request-ID"]


def test_unknown_portal_path_answers_html(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_internal_error_under_api_names_the_request_not_the_cause():
    request = RequestFactory().get("/api/v1/me")
    request.request_id = "req-12345678"  # type: ignore[attr-defined]

    response = handler500(request)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["code"] == "internal_error"
    assert body["request_id"] == "req-12345678"
    assert set(body) == {"type", "title", "status", "detail", "code", "instance", "request_id"}


def test_unexpected_exception_in_a_view_is_a_bare_problem(cast, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("accounts.api.views.MeSerializer.to_representation", explode)
    client = Client(raise_request_exception=False)
    client.force_login(cast.alpha["analyst"])

    response = client.get("/api/v1/me")

    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


def test_caller_supplied_request_id_is_echoed_when_well_formed(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="loan-sys-000123").headers["X-Request-ID"] == "loan-sys-000123"
    echoed = client.get("/healthz", HTTP_X_REQUEST_ID="<script>").headers["X-Request-ID"]
    assert echoed != "<script>"
    assert len(echoed) == 32


@pytest.mark.parametrize("identifier", ["11010519491231002X", "13800138000", "+86-138-0013-8000"])
def test_a_request_id_that_holds_an_identifier_is_replaced_not_logged(client, identifier):
    """A request id reaches every log line and the audit trail: a borrower's identifier must not."""
    for request_id in (identifier, f"crm.{identifier}"):
        echoed = client.get("/healthz", HTTP_X_REQUEST_ID=request_id).headers["X-Request-ID"]
        assert identifier not in echoed
        assert len(echoed) == 32


def test_nested_errors_are_flattened_with_paths():
    class Item(serializers.Serializer[Any]):
        amount = serializers.IntegerField(min_value=0)

    class Batch(serializers.Serializer[Any]):
        items = Item(many=True)
        tags = serializers.ListField(child=serializers.ChoiceField(choices=["a"]))

    batch = Batch(data={"items": [{"amount": 1}, {"amount": -1}], "tags": ["a", "z"]})
    assert not batch.is_valid()

    errors = field_errors(batch.errors)

    assert {(error["field"], error["code"]) for error in errors} == {
        ("items[1].amount", "min_value"),
        ("tags[1]", "invalid_choice"),
    }


def test_throttled_answers_carry_a_whole_second_retry_after():
    from rest_framework import exceptions
    from rest_framework.test import APIRequestFactory

    from config.problems import exception_handler

    request = APIRequestFactory().get("/api/v1/me")
    response = exception_handler(exceptions.Throttled(wait=0.4), {"request": request})

    assert response is not None
    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    assert response.data["code"] == "throttled"


def test_api_answers_are_never_cached(client):
    response = client.get("/api/v1/me")

    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_a_request_for_an_unknown_host_under_api_is_a_problem_too(client):
    response = Client(raise_request_exception=False).get("/api/v1/me", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "bad_request"


def test_a_message_that_echoes_unencodable_input_still_renders():
    from rest_framework import exceptions
    from rest_framework.test import APIRequestFactory

    from config.problems import exception_handler

    request = APIRequestFactory().get("/api/v1/me")
    echo = exceptions.ValidationError({"purpose\ud800": ['"\ud800\x00" is not a valid choice.']})
    response = exception_handler(echo, {"request": request})

    assert response is not None
    response.data["errors"].append({"field": None, "code": "invalid", "message": float("nan")})
    renderer = request.accepted_renderer
    body = json.loads(renderer.render(response.data, request.accepted_media_type, {}))
    assert body["errors"][0] == {
        "field": "purpose\ufffd",
        "code": "invalid",
        "message": '"\ufffd\ufffd" is not a valid choice.',
    }
    assert body["errors"][1]["message"] is None  # not a NaN that strict JSON cannot write


def test_a_problem_outside_drf_renders_whatever_it_holds():
    from config.problems import problem_response

    request = RequestFactory().get("/api/v1/me")
    response = problem_response(request, 400, "bad_request", "echo \ud800")

    assert json.loads(response.content)["detail"] == "echo \ufffd"
