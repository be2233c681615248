"""Prepared statements for the few statements that every API request runs (docs/architecture.md).

PostgreSQL spends more CPU parsing and planning these statements than running them: a query's lookup
(sharing.matching.queries) costs about 2 ms of the server's CPU as Django sends it, 0.4 ms prepared.
Django binds parameters on the client and never prepares, so that poolers in transaction mode keep
working; ``cursor()`` gives a cursor whose statements are prepared on their first execution in a
connection and then planned once, with a generic plan (``plan_cache_mode = force_generic_plan``, set
on the platform's PostgreSQL connections by the settings). Only statements written so that their
plan cannot depend on their values or on statistics go through it: probes of unique or selective
indexes by key, with LATERAL subqueries that OFFSET 0 keeps from becoming joins.

The client's share shrinks too: a statement's placeholders (``%s`` or ``%(name)s``, as Django's)
are numbered once per statement text (``$1``, ``$2``, ...) instead of on every execution, which
psycopg does only for statements shorter than 4 KB.

A generic plan is made from the tables as they are when it is made, so a plan made while a table
was nearly empty could scan it once it has grown: a connection drops its prepared statements when
they are ``MAX_AGE`` old and prepares them again.

``DATABASE_PREPARED_STATEMENTS=false`` turns this off, for a pooler that cannot keep a session's
prepared statements (PgBouncer in transaction mode before 1.21); SQLite never prepares.
"""

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorWrapper

# Seconds a connection keeps its prepared statements and their plans before it makes them again.
MAX_AGE = 60.0
# The clock that ages them.
clock = time.monotonic
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


def enabled() -> bool:
    return connection.vendor == "postgresql" and settings.DATABASE_PREPARED_STATEMENTS


@lru_cache(maxsize=64)
def numbered(sql: str) -> tuple[str, tuple[str, ...] | int]:
    """``sql`` with PostgreSQL's own placeholders, and what they take: the names of ``%(name)s`` in
    the order of their numbers (a name used twice has one number), or how many ``%s`` there are."""
    names: dict[str, int] = {}
    positional = 0

    def number(match: re.Match[str]) -> str:
        nonlocal positional
        if match[0] == "%%":
            return "%"
        if match[1] is None:
            positional += 1
            return f"${positional}"
        return f"${names.setdefault(match[1], len(names) + 1)}"

    text = _PLACEHOLDER.sub(number, sql)
    if names and positional:
        raise ValueError("a statement takes named or positional parameters, not both")
    return text, tuple(names) if names else positional


@contextmanager
def cursor() -> Iterator[CursorWrapper]:
    """A cursor of the default connection whose statements PostgreSQL prepares; elsewhere a plain one.

    It is Django's cursor wrapper, so the query log, ``execute_wrapper`` and the translation of
    database errors apply as to any other.
    """
    if not enabled():
        with connection.cursor() as plain:
            yield plain
        return
    connection.ensure_connection()
    raw = connection.connection
    now = clock()
    made = getattr(raw, "riskshare_prepared_at", None)
    if made is None or now - made > MAX_AGE:
        if made is not None:
            with connection.cursor() as plain:  # psycopg sees the command and forgets its statements too
                plain.execute("DEALLOCATE ALL")
        raw.riskshare_prepared_at = now
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        inner = _cursor_class()(raw)
    wrapped = connection.make_debug_cursor(inner) if connection.queries_logged else connection.make_cursor(inner)
    with wrapped:
        yield wrapped


@lru_cache(maxsize=1)
def _cursor_class() -> type:
    """psycopg's raw cursor (``$1`` placeholders, bound and prepared by the server), taking Django's
    placeholders; defined on first use, as psycopg is there only where PostgreSQL is."""
    from django.db.backends.postgresql.base import CursorMixin
    from psycopg import RawCursor

    class PreparedCursor(CursorMixin, RawCursor):
        def execute(  # type: ignore[override]  # Django's placeholders, not psycopg's templates
            self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None, **options: Any
        ) -> Any:
            text, takes = numbered(query)
            if isinstance(params, Mapping):
                assert isinstance(takes, tuple), "named parameters for a statement of %s"
                params = [params[name] for name in takes]
            return super().execute(text, params, **options)

    return PreparedCursor
