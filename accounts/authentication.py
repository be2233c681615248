"""``Authorization: Api-Key <key>`` for member systems."""

import re
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Field, Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts import prepared
from accounts.models import ApiKey, Institution, User
from accounts.network import address_allowed, client_ip
from accounts.permissions import Allow, admits

KEYWORD = "Api-Key"
# rs_ and 8 lowercase letters or digits, a dot, then the secret (URL-safe base64 of 32 bytes).
# Anything else is refused before the database is asked.
KEY_FORMAT = re.compile(r"^rs_[a-z0-9]{8}\.[A-Za-z0-9_-]{43}$")
# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyCaller:
    """Stands where DRF expects a user when a system calls with an API key.

    It has an institution like a person, no roles, and the key's scopes.
    """

    is_authenticated = True
    is_anonymous = False
    is_api_key = True
    role_set: frozenset[str] = frozenset()

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.institution: Institution = key.institution
        self.scopes = frozenset(key.scopes)

    def __str__(self) -> str:
        return f"API key {self.key.prefix}"


def caller_institution(request: HttpRequest) -> Institution:
    """The institution on whose behalf the authenticated person or key acts."""
    caller = request.user
    if not isinstance(caller, User | ApiKeyCaller):
        raise exceptions.NotAuthenticated()
    return caller.institution


def caller_person(request: HttpRequest) -> User:
    """The signed-in person, for actions that the ``allow`` table opens to people only."""
    if not isinstance(request.user, User):
        raise exceptions.PermissionDenied("API keys cannot do this; a person must.", code="people_only")
    return request.user


def person_holding(request: HttpRequest, rule: Allow) -> User:
    """The signed-in person on a portal page that ``rule`` opens; anyone else gets the 403 page."""
    person = caller_person(request)
    if not admits(person, rule):
        raise PermissionDenied
    return person


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyCaller, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the key as 'Authorization: Api-Key <key>'.", code="malformed_api_key"
            )
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The API key is not valid.", code="invalid_api_key") from None
        key = verify_api_key(raw, client_ip(request))
        return ApiKeyCaller(key), key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


def verify_api_key(raw: str, address: str) -> ApiKey:
    """The usable key behind ``raw`` called from ``address``, or the reason it is refused.

    An unknown prefix and a wrong secret get the same answer, so the API does
    not confirm which prefixes exist.
    """
    if not KEY_FORMAT.match(raw):
        raise exceptions.AuthenticationFailed("The API key is not valid.", code="invalid_api_key")
    prefix, _, _secret = raw.partition(".")
    key = key_by_prefix(prefix)
    if key is None or not key.matches(raw):
        raise exceptions.AuthenticationFailed("The API key is not valid.", code="invalid_api_key")
    if key.is_revoked:
        raise exceptions.AuthenticationFailed("The API key has been revoked.", code="api_key_revoked")
    if key.is_expired:
        raise exceptions.AuthenticationFailed("The API key has expired.", code="api_key_expired")
    if not key.institution.is_active:
        raise exceptions.PermissionDenied("The key's institution is suspended.", code="institution_suspended")
    if not address_allowed(address, key.allowed_networks):
        raise exceptions.PermissionDenied("The API key may not be used from this address.", code="address_not_allowed")
    if key.last_used_at is None or key.last_used_at < timezone.now() - LAST_USED_RESOLUTION:
        transaction.on_commit(lambda: record_use(key.pk))
    return key


# What a request needs of a key and its institution; the rest loads if asked for (never on a request).
KEY_FIELDS = (
    "id",
    "institution_id",
    "prefix",
    "hashed_secret",
    "scopes",
    "allowed_networks",
    "expires_at",
    "last_used_at",
    "revoked_at",
)
INSTITUTION_FIELDS = ("id", "code", "name_zh", "name_en", "kind", "status")


def key_by_prefix(prefix: str) -> ApiKey | None:
    """The key with ``prefix`` and its institution, in one query.

    ``select_related`` would do the same, but every API request asks, and building
    its SQL costs more than the query itself: this SQL is built once, and the
    values go through each field's own database converters, as the ORM's would.
    """
    sql, converters = _key_query()
    with prepared.cursor() as cursor:
        cursor.execute(sql, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    values = [value if convert is None else convert(value) for value, convert in zip(row, converters, strict=True)]
    key = ApiKey.from_db(connection.alias, KEY_FIELDS, values[: len(KEY_FIELDS)])
    key.institution = Institution.from_db(connection.alias, INSTITUTION_FIELDS, values[len(KEY_FIELDS) :])
    return key


@cache
def _key_query() -> tuple[str, list[Callable[[Any], Any] | None]]:
    key_fields = {field.attname: field for field in ApiKey._meta.concrete_fields}
    institution_fields = {field.attname: field for field in Institution._meta.concrete_fields}
    fields = [key_fields[name] for name in KEY_FIELDS] + [institution_fields[name] for name in INSTITUTION_FIELDS]
    columns = [f"k.{field.column}" for field in fields[: len(KEY_FIELDS)]]
    columns += [f"i.{field.column}" for field in fields[len(KEY_FIELDS) :]]
    sql = (
        f"SELECT {', '.join(columns)} FROM {ApiKey._meta.db_table} k"  # noqa: S608
        f" JOIN {Institution._meta.db_table} i ON i.id = k.institution_id WHERE k.prefix = %s"
    )
    return sql, [_converter(field) for field in fields]


def _converter(field: Field[Any, Any]) -> Callable[[Any], Any] | None:
    """What the ORM does to a value of ``field`` from this database (JSON text decoded, SQLite's dates parsed)."""
    column = field.get_col(field.model._meta.db_table)
    steps = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
    if not steps:
        return None

    def convert(value: Any) -> Any:
        for step in steps:
            value = step(value, column, connection)
        return value

    return convert


def record_use(key_id: int) -> None:
    """Stamp last_used_at after the request commits, in a short transaction of its own.

    Inside the request it would hold the key's row lock for the whole request and
    make every parallel request with the same key wait.
    """
    now = timezone.now()
    ApiKey.objects.filter(pk=key_id).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
