"""A small HTTP client for the Riskshare API: how the member client talks to the platform.

Standard library only (``http.client``, ``ssl``), so that a member runs it with
no Django and no third-party HTTP stack to vet. It does what every command
needs and no more: the API key header, certificate checks, retries of what is
safe to retry, and RFC 9457 problem documents turned into an ``ApiError`` that
says what to fix.

Retried, with exponential backoff and jitter, ``ATTEMPTS`` times in all:
connection failures and timeouts, 409 ``idempotency_key_in_flight``, 429
(after its ``Retry-After``) and 502/503/504. A POST is retried only when it
carries an ``Idempotency-Key``, so a retry can never act twice, or when its
caller says a second copy is harmless (``retry=True``: a query only reads). Any
other 4xx is the caller's to fix: retrying it would only repeat the refusal, and
so is a 429 that no wait within a run would cure (``quota_exceeded``: a daily
quota that resets in hours).

Redirects are not followed and links the platform returns are only ever
requested from the origin of ``--url``: the API key goes to that origin and
nowhere else, even behind a proxy that reports the wrong scheme or host.
"""

import http.client
import json
import os
import platform
import random
import re
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar
from urllib.parse import urljoin, urlsplit

from memberkit.problems import ApiError, LocalError

ATTEMPTS = 6
BACKOFF_SECONDS = 1.0  # the first wait; each next one doubles
BACKOFF_CAP_SECONDS = 60.0
RETRY_AFTER_CAP_SECONDS = 600.0  # a longer Retry-After is waited in several attempts
TIMEOUT_SECONDS = 60.0  # to connect, and between two packets of an answer
CHUNK_BYTES = 1024 * 1024
PROBLEM_MAX_BYTES = 1024 * 1024
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IN_FLIGHT = "idempotency_key_in_flight"
# 429s that waiting would not cure within a run: the platform's daily quota resets at midnight.
FINAL_CODES = frozenset({"quota_exceeded"})
USER_AGENT = f"riskshare-client/1 (Python {platform.python_version()})"
# What an HTTP header value may hold; checked here so that http.client never quotes a bad key in an error.
API_KEY = re.compile(r"[\x21-\x7e]{1,512}")
DEFAULT_PORTS = {"http": 80, "https": 443}

T = TypeVar("T")


class Body(Protocol):
    """A request body sent in chunks; ``chunks()`` starts over from the first byte on every call."""

    content_type: str
    length: int

    def chunks(self) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise ApiError(f"the platform answered HTTP {self.status} with something other than a JSON object")
        return value


class _Target(NamedTuple):
    scheme: str
    host: str
    port: int
    path: str  # with its query string


class _Retry(Exception):
    """A failure worth another attempt, after ``wait`` seconds if the platform said how long."""

    def __init__(self, error: ApiError, wait: float | None = None) -> None:
        super().__init__(error.detail)
        self.error, self.wait = error, wait


class Client:
    """Requests to one platform, as one API key. Holds no connection between requests: polls are seconds apart."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        ca_file: Path | None = None,
        timeout: float = TIMEOUT_SECONDS,
        attempts: int = ATTEMPTS,
        retry_after_cap: float = RETRY_AFTER_CAP_SECONDS,
        sleep: Callable[[float], None] | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"the platform's address starts with https:// (or http:// for local use): {base_url!r}")
        if not API_KEY.fullmatch(api_key):
            raise ValueError("the API key holds spaces or characters that cannot go in an HTTP header")
        self.base_url = base_url.rstrip("/")
        self._origin = _Target(parts.scheme, parts.hostname.lower(), parts.port or DEFAULT_PORTS[parts.scheme], "")
        self._authorization = f"Api-Key {api_key}"
        self._context = ssl.create_default_context()
        if ca_file is not None:
            self._context.load_verify_locations(cafile=os.fspath(ca_file))
        self.timeout, self.attempts = timeout, max(attempts, 1)
        # The longest single wait a Retry-After may impose; a command that must keep moving sets a shorter one.
        self.retry_after_cap = min(retry_after_cap, RETRY_AFTER_CAP_SECONDS)
        # Looked up when the client is built, so a test that patches time.sleep makes every wait instant.
        self.sleep = sleep or time.sleep
        self._notify = notify or (lambda message: None)

    @property
    def encrypted(self) -> bool:
        return self._origin.scheme == "https"

    @property
    def host(self) -> str:
        return self._origin.host

    def url(self, path: str) -> str:
        return self.base_url + path

    def send(
        self,
        method: str,
        url: str,
        *,
        body: Body | None = None,
        headers: Mapping[str, str] | None = None,
        answer_timeout: float | None = None,
        retry: bool | None = None,
    ) -> Answer:
        """One request and its whole answer (small JSON documents); an error status raises ``ApiError``.

        ``answer_timeout`` is how long to wait for the answer once the body is
        sent, for a platform that stores a large file before it answers.
        ``retry`` overrides the rule of what is retried (GET, HEAD, and a POST
        with an ``Idempotency-Key``) for a request its caller knows to be
        harmless, or harmful, to repeat.
        """
        headers = {**self._headers("application/json"), **(headers or {})}
        if body is not None:
            headers["Content-Type"] = body.content_type
            headers["Content-Length"] = str(body.length)
        elif method in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = "0"
        if retry is None:
            retry = method in ("GET", "HEAD") or "Idempotency-Key" in headers

        def consume(response: http.client.HTTPResponse) -> Answer:
            return Answer(response.status, response.headers, response.read())

        return self._with_retries(lambda: self._exchange(method, url, headers, body, answer_timeout, consume), retry)

    def download(self, url: str, target: Path, accept: str = "text/csv") -> int:
        """Stream a GET's answer to ``target`` in chunks (a report of millions of lines); the number of bytes.

        The answer goes to ``target.part`` first and is renamed when complete: a
        failed download never leaves a truncated report under the real name.
        """
        partial = target.with_name(target.name + ".part")

        def consume(response: http.client.HTTPResponse) -> int:
            written = 0
            try:
                out = partial.open("wb")
            except OSError as error:
                raise LocalError(f"cannot write {target}: {error.strerror or error}") from None
            with out:
                while chunk := response.read(CHUNK_BYTES):  # a network error here is retried
                    try:
                        out.write(chunk)
                    except OSError as error:
                        raise LocalError(f"cannot write {target}: {error.strerror or error}") from None
                    written += len(chunk)
            return written

        # The platform negotiates every answer, errors included, among its JSON renderers: ask for */* too.
        headers = self._headers(f"{accept}, */*;q=0.1")
        try:
            written = self._with_retries(lambda: self._exchange("GET", url, headers, None, None, consume), True)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, target)
        return written

    def _headers(self, accept: str) -> dict[str, str]:
        return {"Authorization": self._authorization, "Accept": accept, "User-Agent": USER_AGENT}

    def _target(self, url: str) -> _Target:
        """A URL's path and query, on the origin of ``--url`` whatever origin the URL names."""
        parts = urlsplit(urljoin(self.base_url + "/", url))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # Never another host or a downgrade to http: only the origin the member named gets the key.
        return self._origin._replace(path=path)

    def _exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body | None,
        answer_timeout: float | None,
        consume: Callable[[http.client.HTTPResponse], T],
    ) -> T:
        target = self._target(url)
        connection: http.client.HTTPConnection
        if target.scheme == "https":
            connection = http.client.HTTPSConnection(
                target.host, target.port, timeout=self.timeout, context=self._context
            )
        else:
            connection = http.client.HTTPConnection(target.host, target.port, timeout=self.timeout)
        try:
            connection.putrequest(method, target.path, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            response = None
            if body is not None:
                try:
                    for chunk in body.chunks():
                        connection.send(chunk)
                except OSError as error:
                    # A platform may answer before it has read the whole body (413: too large) and close
                    # the connection; its answer says more than the broken pipe.
                    try:
                        response = connection.getresponse()
                    except (OSError, http.client.HTTPException):
                        raise error from None
            if response is None:
                if answer_timeout is not None and connection.sock is not None:
                    connection.sock.settimeout(max(answer_timeout, self.timeout))
                response = connection.getresponse()
            _judge(response)
            return consume(response)
        finally:
            connection.close()

    def _with_retries(self, attempt: Callable[[], T], retry: bool) -> T:
        attempts = self.attempts if retry else 1
        for number in range(1, attempts + 1):
            try:
                return attempt()
            except ssl.SSLCertVerificationError as error:
                raise ApiError(
                    f"the platform's certificate is not trusted ({error.verify_message}); "
                    "if it is signed by your own authority, pass its certificate with --ca-file"
                ) from None
            except ssl.SSLError as error:
                if not isinstance(error, ssl.SSLEOFError | ssl.SSLZeroReturnError):  # a connection cut short
                    raise ApiError(
                        f"no TLS session with the platform ({error.reason or error}); "
                        "check that the address's scheme and port are right"
                    ) from None
                failure, wait = ApiError(f"could not reach the platform: {_describe(error)}"), None
            except _Retry as transient:
                failure, wait = transient.error, transient.wait
            except (OSError, http.client.HTTPException) as error:
                failure, wait = ApiError(f"could not reach the platform: {_describe(error)}"), None
            if number == attempts:
                break
            wait = backoff(number) if wait is None else min(wait, self.retry_after_cap)
            self._notify(f"{failure.headline()} (retrying in {wait:.0f} s: attempt {number + 1} of {attempts})")
            self.sleep(wait)
        raise failure.gave_up(attempts) if attempts > 1 else failure


def _judge(response: http.client.HTTPResponse) -> None:
    """Raise for an answer that is not a success: ``_Retry`` for a transient one, ``ApiError`` otherwise."""
    status = response.status
    if status < 300:
        return
    if status < 400:
        location = response.headers.get("Location", "elsewhere")
        raise ApiError(
            f"the platform redirects to {location}; pass that address as --url (redirects are not followed)",
            status=status,
        )
    error = ApiError.from_answer(status, response.reason, response.read(PROBLEM_MAX_BYTES))
    if (status in RETRY_STATUSES and error.code not in FINAL_CODES) or (status == 409 and error.code == IN_FLIGHT):
        raise _Retry(error, retry_after(response.headers.get("Retry-After")))
    raise error


def backoff(attempt: int) -> float:
    """Seconds before the attempt after ``attempt``: doubling from 1 s, each drawn between half and all of it.

    The jitter spreads the retries of many members that one outage stopped at once.
    """
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_SECONDS * 2.0 ** (attempt - 1))
    return ceiling * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date; None if absent."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
