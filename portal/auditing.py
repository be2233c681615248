"""The portal records what its pages do as the API does (``accounts.api.auditing.AuditedMixin``):
declared on the view, one event per answer that succeeds, written in the request's transaction.

    @login_required
    @audited(AuditAction.FLAG_VIEW)
    def flag_detail(request, pk):
        flag = get_object_or_404(...)
        audit(request, target=flag)
        ...

The action on the decorator is the page's own (a read, unless ``changes=True``); a page that changed
something names that action instead, with ``audit(request, action=..., target=...)``, and a page
that did nothing at all says so with ``skip_audit(request)``. A page that answers 4xx or raises
(403, 404) records nothing, and an event of a read does not wait for the log flush, as in the API.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from django.db.models import Model
from django.http import HttpRequest, HttpResponseBase

from accounts.audit import record
from accounts.choices import AuditAction

Page = TypeVar("Page", bound=Callable[..., HttpResponseBase])
ATTRIBUTE = "portal_audit"


@dataclass
class Audit:
    """What the answer to one request records, once the page has answered with success."""

    action: AuditAction | None
    changes: bool
    target: Model | None = None
    subjects: int | None = None


def audited(action: AuditAction | None = None, *, changes: bool = False) -> Callable[[Page], Page]:
    """Record ``action`` (or what the page names with ``audit``) after the page answers below 400."""

    def decorate(page: Page) -> Page:
        @wraps(page)
        def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            done = Audit(action, changes)
            setattr(request, ATTRIBUTE, done)
            response = page(request, *args, **kwargs)
            if done.action is not None and response.status_code < 400:
                # A read changed nothing but its own event: it need not wait for the log flush.
                record(done.action, request=request, target=done.target, subjects=done.subjects, durable=done.changes)
            return response

        return cast(Page, answer)

    return decorate


def audit(
    request: HttpRequest, *, target: Model | None = None, action: AuditAction | None = None, subjects: int | None = None
) -> None:
    """Name the object the page acted on; with ``action``, the change it made instead of its own action."""
    done = _audit_of(request)
    done.target = target
    done.subjects = subjects
    if action is not None:
        done.action, done.changes = action, True


def skip_audit(request: HttpRequest) -> None:
    """This answer did nothing (a form sent twice, a page out of date) and records nothing."""
    _audit_of(request).action = None


def _audit_of(request: HttpRequest) -> Audit:
    done = getattr(request, ATTRIBUTE, None)
    if not isinstance(done, Audit):
        raise RuntimeError("The page is not @audited: declare what it records on the view.")
    return done
