"""The OpenAPI schema and the interactive docs, served without any outside asset."""

import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_schema_describes_the_api_and_the_api_key_scheme(cast, client):
    client.force_login(cast.alpha["analyst"])
    response = client.get("/api/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/me", "/api/v1/institutions", "/api/v1/users", "/api/v1/api-keys/{id}/revoke"} <= set(
        schema["paths"]
    )
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Api-Key <key>`, the key as issued (shown once).",
    }


def test_interactive_docs_load_their_assets_from_the_platform(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert "swagger-ui" in response.text
    assert "cdn." not in response.text
    assert "unpkg" not in response.text


def test_schema_needs_a_signed_in_person_or_a_key(db, client):
    response = client.get("/api/schema/")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_authenticated"


def test_a_bad_key_on_the_schema_gets_a_json_problem_not_yaml(db, client):
    response = client.get("/api/schema/", HTTP_AUTHORIZATION="Api-Key rs_00000000." + "x" * 43)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
