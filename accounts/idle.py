"""Signing people out of the portal after a while without a request."""

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

LAST_SEEN = "riskshare_last_seen"
# The last request's time is written to the session at most this often, not on every request.
RESOLUTION_SECONDS = 60


class IdleTimeoutMiddleware:
    """Ends a person's session after ``SESSION_IDLE_MINUTES`` without a request.

    The session itself lasts at most ``SESSION_COOKIE_AGE`` whatever the activity. API keys have
    no session and are not concerned. The request that finds the session idle goes on signed out:
    a portal page sends the person to sign in again.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get(LAST_SEEN)
            if last is not None and now - last > settings.SESSION_IDLE_MINUTES * 60:
                logout(request)
            elif last is None or now - last >= RESOLUTION_SECONDS:
                seen(request.session, now)
        return self.get_response(request)


def seen(session: Any, now: int | None = None) -> None:
    """Note a request at ``now`` (sign-in calls it, so a new session starts its idle clock at once)."""
    session[LAST_SEEN] = int(time.time()) if now is None else now
