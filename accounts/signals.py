"""Sign-ins, failed sign-ins and sign-outs go into the audit trail, whichever view they came through."""

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from accounts import idle
from accounts.audit import record
from accounts.choices import AuditAction, AuditOutcome
from accounts.models import User


@receiver(user_logged_in)
def record_sign_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    record(AuditAction.LOGIN, request=request, actor=user)
    if request is not None and hasattr(request, "session"):
        idle.seen(request.session)  # the idle clock starts at sign-in, saved with the new session


@receiver(user_logged_out)
def record_sign_out(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        record(AuditAction.LOGOUT, request=request, actor=user)


@receiver(user_login_failed)
def record_failed_sign_in(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """The person is named only if the name typed is one of ours: typed text is never stored."""
    person = User.objects.select_related("institution").filter(username=credentials.get("username", "")).first()
    locked = bool(getattr(request, "axes_locked_out", False))
    record(
        AuditAction.LOGIN_FAILED,
        request=request,
        actor=person if person is not None else AnonymousUser(),
        outcome=AuditOutcome.DENIED,
        reason="locked_out" if locked else "bad_credentials",
    )
