"""``Idempotency-Key``: a retried request gets the first answer again instead of acting twice.

The answer to a successful request is stored with the key, scoped to the caller's
institution and the endpoint, in the request's own transaction: the action and
its stored answer commit together. A retry with the same key and the same
request gets that answer back (``Idempotent-Replayed: true``); the same key with
a different request is refused. Two requests racing with one key cannot both
act: the second one's insert waits for the first to commit, then fails, and
everything it did is rolled back (409, retry to get the stored answer).
Keys are kept for ``IDEMPOTENCY_KEY_HOURS``, and only as their SHA-256: a key is a label the
member chooses, and one made of a borrower's identifier must not land on the platform in clear.
"""

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import caller_institution
from sharing.messages import lazy_message
from sharing.models import IdempotentRequest

HEADER = "Idempotency-Key"
KEY = re.compile(r"[\x21-\x7e]{1,255}")


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = lazy_message("idempotency_key_reused")


class KeyInFlight(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_flight"
    default_detail = lazy_message("idempotency_key_in_flight")


def stored_key(key: str) -> str:
    """What the platform keeps of an ``Idempotency-Key``: its SHA-256, in hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def once(request: Request, endpoint: str, fingerprint: Callable[[], str], run: Callable[[], Response]) -> Response:
    """Answer ``request`` with ``run()``, or with the stored answer if its key was seen before.

    ``fingerprint`` says what the request asks for; it is computed only when a key is sent.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return run()
    if not KEY.fullmatch(key):
        raise exceptions.ValidationError(
            {HEADER: exceptions.ErrorDetail("Use 1 to 255 visible ASCII characters.", code="bad_idempotency_key")}
        )
    institution = caller_institution(request)
    fingerprint_now = fingerprint()
    key = stored_key(key)
    mine = IdempotentRequest.objects.filter(institution=institution, endpoint=endpoint, key=key)
    mine.filter(created_at__lt=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)).delete()
    stored = mine.first()
    if stored is not None:
        if stored.fingerprint != fingerprint_now:
            raise KeyReused()
        return Response(stored.body, status=stored.status_code, headers={"Idempotent-Replayed": "true"})
    response = run()
    if response.status_code < 400:
        try:
            with transaction.atomic():
                IdempotentRequest.objects.create(
                    institution=institution,
                    endpoint=endpoint,
                    key=key,
                    fingerprint=fingerprint_now,
                    status_code=response.status_code,
                    body=response.data,
                )
        except IntegrityError:
            raise KeyInFlight() from None
    return response


def prune() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
