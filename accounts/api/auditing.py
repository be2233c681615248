"""Every API endpoint records what it did: one audit event per successful request."""

from collections.abc import Mapping
from typing import Any

from django.db.models import Model
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import record
from accounts.choices import AuditAction


class AuditedMixin(APIView):
    """Records ``audit_actions[action]`` once the view has answered with success.

    The event is written in the request's transaction, just before it commits: an
    answer that fails rolls it back with everything else. Views name the object
    they acted on in ``audit_target`` (``get_object`` does it for them).
    """

    audit_actions: Mapping[str, AuditAction] = {}
    audit_target: Model | None = None
    # Set by a view whose one action records different things (resolve or withdraw), or counts subjects.
    audit_action: AuditAction | None = None
    audit_subjects: int | None = None
    # What a query records besides: purpose, consent_reference, hits (accounts.audit.record's keywords).
    audit_details: Mapping[str, Any] | None = None
    # A view whose POST only reads (its question is the body) says so: its event is recorded as a read's.
    reads_only = False

    def get_object(self) -> Any:
        self.audit_target = super().get_object()  # type: ignore[misc]
        return self.audit_target

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        action = getattr(self, "action", None) or (request.method or "").lower()
        audit_action = self.audit_action or self.audit_actions.get(action)
        if audit_action is not None and response.status_code < 400:
            # A read changed nothing but its own event: it need not wait for the log flush.
            durable = request.method not in SAFE_METHODS and not self.reads_only
            # A retry answered from its Idempotency-Key is recorded too, as the replay it is.
            reason = "idempotent_replay" if response.get("Idempotent-Replayed") else ""
            record(
                audit_action,
                request=request,
                target=self.audit_target,
                subjects=self.audit_subjects,
                reason=reason,
                durable=durable,
                **(self.audit_details or {}),
            )
        return response
