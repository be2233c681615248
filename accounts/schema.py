"""The OpenAPI schema, made to say what the API really answers.

- The Api-Key authentication scheme.
- Read-only model fields say what the column holds: DRF builds a read-only field without the
  model's ``null`` and ``blank``, so a nullable date or a blank choice (``amount_band``,
  ``sector``) would be declared as never null, never ``""``.
- Every operation lists the problems (RFC 9457) it can answer, each as
  ``application/problem+json``: the statuses that follow from its shape here (a body, query
  parameters, a path id, a file, an ``Idempotency-Key``, authentication), and those a view
  declares itself with ``@extend_schema(responses={409: OpenApiResponse(description=...)})``.
"""

import copy
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from config.problems import CONTENT_TYPE, TITLES


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`, the key as issued (shown once).",
        }


class FieldErrorSerializer(serializers.Serializer[Any]):
    field = serializers.CharField(allow_null=True, help_text="`items[3].amount`; null when no single field is.")
    code = serializers.CharField(help_text="Stable, for programs.")
    message = serializers.CharField(help_text="For people, in the request's language.")


class ProblemSerializer(serializers.Serializer[Any]):
    """An error, as RFC 9457 problem details (see docs/api.md, Errors)."""

    type = serializers.CharField(help_text="`urn:riskshare:problem:<code>`.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable, for programs.")
    errors = FieldErrorSerializer(many=True, required=False, help_text="Only for `validation_error`.")  # type: ignore[assignment]
    instance = serializers.CharField(required=False, help_text="The request path.")
    request_id = serializers.CharField(required=False, allow_null=True)


WHEN = {
    400: "Invalid input: a field, a filter, a header, or a body that is not JSON.",
    401: "No valid credentials.",
    403: "The caller may not do this (role, scope, institution status, network, CSRF).",
    404: "No such object for this caller (another institution's objects do not exist), or no such page or cursor.",
    409: "Conflict: the object is not ready, or the same Idempotency-Key is being processed.",
    413: "The file is over the size limit.",
    415: "The body is not in a media type the operation takes.",
    422: "The Idempotency-Key was sent before with a different request.",
    429: "Over the caller's rate or quota; see Retry-After.",
}


def _blank_and_null(field: serializers.Field[Any, Any, Any, Any]) -> tuple[bool, bool]:
    """Whether a read-only field's model column may be blank (a choice) and may be null."""
    parent = getattr(field, "parent", None)
    model = getattr(getattr(parent, "Meta", None), "model", None)
    if not field.read_only or model is None or not field.source or "." in field.source or field.source == "*":
        return False, False
    try:
        column = model._meta.get_field(field.source)
    except FieldDoesNotExist:
        return False, False
    blank = isinstance(column, models.CharField) and bool(column.choices) and column.blank
    return blank, bool(getattr(column, "null", False))


class AutoSchema(SpectacularAutoSchema):
    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> dict[str, Any] | None:
        if isinstance(field, serializers.Field):
            blank, null = _blank_and_null(field)
            if (blank and not getattr(field, "allow_blank", True)) or (null and not field.allow_null):
                field = copy.copy(field)  # the serializer's own field stays as it is
                field.allow_null = field.allow_null or null
                if blank:
                    field.allow_blank = True
        mapped: dict[str, Any] | None = super()._map_serializer_field(  # type: ignore[no-untyped-call]
            field, direction, bypass_extensions
        )
        return mapped

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        responses: dict[str, Any] = operation["responses"]
        for code, response in responses.items():
            if int(code) >= 400:  # declared by the view: its own description, the one body
                response["content"] = {CONTENT_TYPE: {"schema": problem}}
                response.setdefault("description", WHEN.get(int(code), TITLES.get(int(code), "")))
        for status in sorted(self._problem_statuses(operation)):
            if str(status) not in responses:
                component = ResolvedComponent(  # type: ignore[no-untyped-call]
                    name=f"Problem{status}",
                    type=ResolvedComponent.RESPONSE,
                    schema={"description": WHEN[status], "content": {CONTENT_TYPE: {"schema": problem}}},
                    object=f"Problem{status}",
                )
                self.registry.register_on_missing(component)
                responses[str(status)] = component.ref
        return operation

    def _problem_statuses(self, operation: dict[str, Any]) -> set[int]:
        parameters = operation.get("parameters", [])
        body = operation.get("requestBody")
        idempotent = any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in parameters)
        statuses: set[int] = set()
        if body or idempotent or any(p["in"] == "query" for p in parameters):
            statuses.add(400)
        if body:
            statuses.add(415)
            if "multipart/form-data" in body.get("content", {}):
                statuses.add(413)
        if any(requirement for requirement in operation.get("security", [])):
            statuses |= {401, 403}
        if any(p["in"] == "path" or p["name"] in ("page", "cursor") for p in parameters):
            statuses.add(404)  # no such object, or a page past the end, or a cursor that points nowhere
        if idempotent:
            statuses |= {409, 422}
        return statuses
