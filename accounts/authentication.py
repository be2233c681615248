"""``Authorization: Api-Key <key>`` for member systems."""

import re
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.models import ApiKey, Institution, User
from accounts.network import address_allowed, client_ip

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
    key = ApiKey.objects.select_related("institution").filter(prefix=prefix).first()
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


def record_use(key_id: int) -> None:
    """Stamp last_used_at after the request commits, in a short transaction of its own.

    Inside the request it would hold the key's row lock for the whole request and
    make every parallel request with the same key wait.
    """
    now = timezone.now()
    ApiKey.objects.filter(pk=key_id).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
