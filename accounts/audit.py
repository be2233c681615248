"""Recording the audit trail: the one function every endpoint calls.

``record`` is a single INSERT in the caller's own transaction: the action and its
event commit or roll back together, and nothing global is locked. Sealing,
signing and verification happen later, in ``accounts.sealing``.

It is on every request's path, so it writes with one prepared statement rather
than through ``Model.save`` (whose SQL compilation costs more than the insert),
and when the request changed nothing else it lets the commit skip the wait for
the log flush in the same round trip (see ``record``'s ``durable``).
"""

from datetime import datetime
from functools import cache
from typing import Any, TypedDict, Unpack

from django.conf import settings
from django.db import connection, models
from django.http import HttpRequest
from django.utils import timezone

from accounts import prepared
from accounts.authentication import ApiKeyCaller
from accounts.choices import ActorType, AuditAction, AuditOutcome
from accounts.models import AuditEvent, Institution, User
from accounts.network import client_ip

COLUMNS = (
    "occurred_at",
    "action",
    "outcome",
    "reason",
    "institution_id",
    "actor_type",
    "actor_user_id",
    "actor_key_id",
    "actor_name",
    "target_type",
    "target_id",
    "purpose",
    "consent_reference",
    "subjects_count",
    "hits_count",
    "request_id",
    "source_address",
)


class EventFields(TypedDict, total=False):
    """What an event says besides its action, as ``record`` and ``new_event`` take it; all optional.

    The actor is by default the request's caller, the institution the actor's, the outcome success.
    """

    request: HttpRequest | None
    actor: Any
    institution: Institution | None
    target: models.Model | None
    outcome: AuditOutcome
    reason: str
    purpose: str
    consent_reference: str
    subjects: int | None
    hits: int | None


def record(action: AuditAction, *, durable: bool = True, **fields: Unpack[EventFields]) -> AuditEvent | None:
    """Record that ``actor`` (by default the request's caller) did ``action`` to ``target``.

    The institution is the actor's unless given. Pass only the platform's own
    objects as targets and the caller's own codes as purpose and consent
    reference: never a borrower identifier or a member token.

    ``durable=False`` is for a request that changed nothing, whose one write is
    this event: on PostgreSQL its transaction then commits without waiting for
    the log flush. Such an event can be lost only if the database server itself
    crashes within about 3 x wal_writer_delay (600 ms by default) of the commit;
    the application crashing loses nothing, and an event of a change is always as
    durable as the change. A lost event is never half-sealed: the sealer's own
    commit waits for the flush, and the log is flushed in order.

    ``action`` must be a code of ``AuditAction``, the one registry of actions;
    any other raises ValueError before anything is written.
    """
    try:
        action = AuditAction(action)
    except ValueError:
        raise ValueError(f"{action!r} is not an audit action: add it to AuditAction in accounts/choices.py") from None
    if not settings.AUDIT_RECORDING:
        return None
    event = new_event(action, **fields)
    ops = connection.ops
    values = [getattr(event, column) for column in COLUMNS]
    values[0] = ops.adapt_datetimefield_value(event.occurred_at)
    values[-1] = ops.adapt_ipaddressfield_value(event.source_address)
    returning = connection.features.can_return_columns_from_insert
    with prepared.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor, durable, returning), values)
        event.pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    return event


def new_event(action: AuditAction, *, occurred_at: datetime | None = None, **fields: Unpack[EventFields]) -> AuditEvent:
    """The event ``record`` writes, unsaved, at ``occurred_at`` (by default now).

    For whoever writes events of another time in bulk (the demo's history); everyone else calls ``record``.
    """
    if unknown := fields.keys() - EventFields.__annotations__.keys():  # as a signature of its own would
        raise TypeError(f"an audit event has no {', '.join(sorted(unknown))}")
    request = fields.get("request")
    actor = fields.get("actor")
    if actor is None and request is not None:
        actor = request.user
    actor_type, actor_user, actor_key, actor_name = _actor(actor)
    institution = fields.get("institution")
    if institution is None:
        institution = getattr(actor, "institution", None)
    target = fields.get("target")
    return AuditEvent(
        occurred_at=occurred_at or timezone.now(),
        action=action,
        outcome=fields.get("outcome", AuditOutcome.SUCCESS),
        reason=fields.get("reason", ""),
        institution=institution,
        actor_type=actor_type,
        actor_user=actor_user,
        actor_key=actor_key,
        actor_name=actor_name,
        target_type=(target._meta.model_name or "") if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        purpose=fields.get("purpose", ""),
        consent_reference=fields.get("consent_reference", ""),
        subjects_count=fields.get("subjects"),
        hits_count=fields.get("hits"),
        request_id=getattr(request, "request_id", "") if request is not None else "",
        source_address=(client_ip(request) or None) if request is not None else None,
    )


@cache
def _insert_sql(vendor: str, durable: bool, returning: bool) -> str:
    """Built once per kind from the model's own table and column names; values go as parameters."""
    table = AuditEvent._meta.db_table
    columns = ", ".join(COLUMNS)
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    if vendor == "postgresql" and not durable:
        # set_config(..., true) is SET LOCAL as an expression: the row's source evaluates it, so
        # the setting and the insert travel in one round trip and last until this transaction ends.
        # Values in a SELECT list need their column types spelled out (a bare NULL would be text).
        fields = {field.column: field for field in AuditEvent._meta.concrete_fields}
        typed = ", ".join(f"%s::{fields[column].db_type(connection)}" for column in COLUMNS)
        return (
            f"INSERT INTO {table} ({columns}) SELECT {typed} "  # noqa: S608
            "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS commit_without_waiting RETURNING id"
        )
    # SQLite before 3.35 has no RETURNING; the row id comes from the cursor there.
    suffix = " RETURNING id" if returning else ""
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}){suffix}"  # noqa: S608


def _actor(actor: Any) -> tuple[str, User | None, Any, str]:
    if isinstance(actor, User):
        return ActorType.PERSON, actor, None, actor.username
    if isinstance(actor, ApiKeyCaller):
        return ActorType.API_KEY, None, actor.key, actor.key.prefix
    if actor is None:
        return ActorType.SYSTEM, None, None, ""
    return ActorType.ANONYMOUS, None, None, ""
