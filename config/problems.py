"""Errors in one shape: RFC 9457 problem details.

Every error the API returns looks like::

    {"type": "urn:riskshare:problem:validation_error", "title": "Invalid request",
     "status": 400, "detail": "...", "code": "validation_error",
     "errors": [{"field": "code", "code": "bad_checksum", "message": "..."}],
     "request_id": "..."}

``code`` and each error's ``code`` are stable and meant for machines; ``title``
and ``detail`` are for people. Nothing from a stack trace is ever included.
"""

import math
import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.functional import Promise
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

CONTENT_TYPE = "application/problem+json"

TITLES = {
    400: "Invalid request",
    401: "Authentication required",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


# What no JSON text can carry to a caller: a lone surrogate has no UTF-8 encoding, and a NUL
# would follow the message into whatever stores it on the caller's side.
_UNENCODABLE = re.compile("[\x00\ud800-\udfff]")


def encodable(data: Any) -> Any:
    """``data`` made renderable whatever it holds: strings (keys included) with each NUL and lone
    surrogate replaced by U+FFFD, lazy texts translated, numbers that JSON cannot write as null.

    A message that echoes what the caller sent (a choice field's "... is not a valid choice")
    must never be what makes an error fail to render.
    """
    if isinstance(data, str | Promise):
        return _UNENCODABLE.sub("\ufffd", str(data))
    if isinstance(data, bool | int | None):
        return data
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, Mapping):
        return {encodable(key): encodable(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [encodable(item) for item in data]
    return encodable(str(data))


class ProblemRenderer(JSONRenderer):
    """Renders a problem document, whatever its messages hold (see ``encodable``)."""

    media_type = CONTENT_TYPE

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return super().render(encodable(data), accepted_media_type, renderer_context)


def problem_type(code: str) -> str:
    return f"urn:riskshare:problem:{code}"


def problem_body(
    status_code: int,
    code: str,
    detail: str,
    request: HttpRequest | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    if request is not None:
        body["instance"] = request.path
        body["request_id"] = getattr(request, "request_id", None)
    return body


def problem_response(request: HttpRequest, status_code: int, code: str, detail: str) -> JsonResponse:
    """A problem response for errors raised outside DRF views (404 and 500 under /api/)."""
    return JsonResponse(
        encodable(problem_body(status_code, code, detail, request)),
        status=status_code,
        content_type=CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )


def field_errors(detail: Any, field: str | None = None) -> list[dict[str, Any]]:
    """Flatten DRF's nested error detail into a list of field errors.

    A nested field reads ``items[3].amount``; errors that concern no single
    field (``non_field_errors``) have ``field`` null.
    """
    if isinstance(detail, dict):
        errors = []
        for key, value in detail.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:
                child = field
            elif isinstance(key, int):  # ListField reports its items by index.
                child = f"{field or ''}[{key}]"
            else:
                child = f"{field}.{key}" if field else str(key)
            errors.extend(field_errors(value, child))
        return errors
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [_error(item, field) for item in detail]
        errors = []
        for index, item in enumerate(detail):
            errors.extend(field_errors(item, f"{field or ''}[{index}]"))
        return errors
    return [_error(detail, field)]


def _error(detail: Any, field: str | None) -> dict[str, Any]:
    return {"field": field, "code": getattr(detail, "code", "invalid"), "message": str(detail)}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        # A rule enforced in a service (model validation) reads like any other invalid input.
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # Unexpected: Django's handler500 answers with a bare problem.

    request = context.get("request")
    headers: dict[str, str] = {}
    if auth_header := getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = auth_header
    if wait := getattr(exc, "wait", None):
        headers["Retry-After"] = str(math.ceil(wait))  # never "0": that would invite an instant retry

    if isinstance(exc, exceptions.ValidationError):
        errors = field_errors(exc.detail)
        detail = f"The request has {len(errors)} invalid value(s)." if len(errors) != 1 else errors[0]["message"]
        body = problem_body(status.HTTP_400_BAD_REQUEST, "validation_error", detail, request, errors)
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        body = problem_body(exc.status_code, code, str(exc.detail), request)

    if _in_request_transaction(request):
        set_rollback()
    if request is not None:
        # An error is a problem document whatever the view renders (YAML schema, HTML docs).
        request.accepted_renderer = ProblemRenderer()
        request.accepted_media_type = CONTENT_TYPE
    return Response(body, status=exc.status_code, headers=headers, content_type=CONTENT_TYPE)


def _in_request_transaction(request: Any) -> bool:
    """Whether the request runs in a transaction of its own (ATOMIC_REQUESTS), which an error rolls
    back; a view marked ``non_atomic_requests`` has none, and a transaction around it is not its own."""
    match = getattr(request, "resolver_match", None)
    return connection.alias not in getattr(getattr(match, "func", None), "_non_atomic_requests", ())
