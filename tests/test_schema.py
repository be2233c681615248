"""The OpenAPI schema and the interactive docs, served without any outside asset."""

import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_schema_describes_the_api_and_the_api_key_scheme(client):
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
