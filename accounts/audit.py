"""Recording the audit trail: the one function every endpoint calls.

``record`` is a single INSERT in the caller's own transaction: the action and its
event commit or roll back together, and nothing global is locked. Sealing,
signing and verification happen later, in ``accounts.sealing``.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest

from accounts.authentication import ApiKeyCaller
from accounts.choices import ActorType, AuditAction, AuditOutcome
from accounts.models import AuditEvent, Institution, User
from accounts.network import client_ip


def record(
    action: AuditAction,
    *,
    request: HttpRequest | None = None,
    actor: Any = None,
    institution: Institution | None = None,
    target: models.Model | None = None,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    reason: str = "",
    purpose: str = "",
    consent_reference: str = "",
    subjects: int | None = None,
    hits: int | None = None,
) -> AuditEvent | None:
    """Record that ``actor`` (by default the request's caller) did ``action`` to ``target``.

    The institution is the actor's unless given. Pass only the platform's own
    objects as targets and the caller's own codes as purpose and consent
    reference: never a borrower identifier or a member token.
    """
    if not settings.AUDIT_RECORDING:
        return None
    if actor is None and request is not None:
        actor = request.user
    event = AuditEvent(
        action=action,
        outcome=outcome,
        reason=reason,
        purpose=purpose,
        consent_reference=consent_reference,
        subjects_count=subjects,
        hits_count=hits,
    )
    _set_actor(event, actor)
    event.institution = institution if institution is not None else getattr(actor, "institution", None)
    if target is not None:
        event.target_type = target._meta.model_name or ""
        event.target_id = str(target.pk)
    if request is not None:
        event.request_id = getattr(request, "request_id", "")
        event.source_address = client_ip(request) or None
    event.save(force_insert=True)
    return event


def _set_actor(event: AuditEvent, actor: Any) -> None:
    if isinstance(actor, User):
        event.actor_type, event.actor_user, event.actor_name = ActorType.PERSON, actor, actor.username
    elif isinstance(actor, ApiKeyCaller):
        event.actor_type, event.actor_key, event.actor_name = ActorType.API_KEY, actor.key, actor.key.prefix
    elif actor is None:
        event.actor_type = ActorType.SYSTEM
    else:
        event.actor_type = ActorType.ANONYMOUS
