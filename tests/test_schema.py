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


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def properties(schema, component):
    return schema["components"]["schemas"][component]["properties"]


def test_blank_choices_are_declared_where_the_column_may_be_blank(schema):
    blank = {"$ref": "#/components/schemas/BlankEnum"}
    assert blank in properties(schema, "Flag")["amount_band"]["oneOf"]
    assert blank in properties(schema, "FlagDetail")["notice_channel"]["oneOf"]
    assert blank in properties(schema, "InstitutionSummary")["sector"]["oneOf"]
    assert schema["components"]["schemas"]["BlankEnum"]["enum"] == [""]
    assert "oneOf" not in properties(schema, "Flag")["category"]  # never blank


def test_what_may_be_null_is_nullable(schema):
    assert properties(schema, "FlagDetail")["details"]["nullable"] is True
    assert properties(schema, "ApiKey")["created_by"]["nullable"] is True
    assert properties(schema, "ReportDetail")["figures"]["nullable"] is True
    assert "nullable" not in properties(schema, "ApiKey")["name"]


def test_every_operation_documents_its_problems_as_problem_details(schema):
    paths = schema["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    ref = response.get("$ref", "")
                    body = schema["components"]["responses"][ref.rsplit("/", 1)[1]] if ref else response
                    assert body["content"] == {
                        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }, (method, path, status)

    def statuses(path, method):
        return set(paths[path][method]["responses"])

    assert {"400", "401", "403", "409", "415", "422"} <= statuses("/api/v1/flags", "post")
    assert {"400", "413", "409", "422"} <= statuses("/api/v1/uploads", "post")
    assert {"404", "409"} <= statuses("/api/v1/inspections/{id}/results", "get")
    assert {"404", "409"} <= statuses("/api/v1/audit/events/{id}/proof", "get")
    assert "429" in statuses("/api/v1/queries", "post")
    assert "413" not in statuses("/api/v1/queries", "post")
    assert statuses("/api/v1/audit/public-key", "get") == {"200"}  # public: nothing to refuse
