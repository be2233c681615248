"""Sign-in for people: refused while their institution is suspended, or while locked out."""

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.db.models import Sum
from django.http import HttpRequest

from accounts.models import User


class InstitutionModelBackend(ModelBackend):
    """Django's model backend, with the institution's status checked on every request.

    ``get_user`` calls ``user_can_authenticate`` too, so suspending an
    institution also ends the sessions its people already have.
    """

    def user_can_authenticate(self, user: User | AnonymousUser | None) -> bool:
        if not super().user_can_authenticate(user):
            return False
        return isinstance(user, User) and user.institution.is_active

    def get_user(self, user_id: int) -> User | None:
        try:
            user = User.objects.select_related("institution").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


class LockoutHandler(AxesDatabaseHandler):  # type: ignore[misc]
    """django-axes' database handler, also counting failures per address across user names.

    Axes compares every count it keeps (``AXES_LOCKOUT_PARAMETERS``) with one limit,
    ``AXES_FAILURE_LIMIT``: counting per address alone at that limit would lock a whole
    office behind one NAT out after five typos. So axes keeps counting per user name and
    address, and this handler adds the address's failures under any user name, within the
    same cool-off, against ``AXES_ADDRESS_FAILURE_LIMIT``. Reaching it counts as reaching
    the per-name limit: the address is locked out for every name, the right password
    included, until the cool-off has passed. A successful sign-in still clears only its
    own name's failures, so an attacker cannot reset the address's count with an account
    of their own.
    """

    def get_failures(self, request: HttpRequest, credentials: dict[str, object] | None = None) -> int:
        failures: int = super().get_failures(request, credentials)
        if address_failures(request) >= settings.AXES_ADDRESS_FAILURE_LIMIT:
            return max(failures, settings.AXES_FAILURE_LIMIT)
        return failures


def address_failures(request: HttpRequest) -> int:
    """Failed sign-ins from the request's address within the cool-off, whatever the user name."""
    address = request.axes_ip_address  # type: ignore[attr-defined]  # set by axes' middleware
    attempts = AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=get_cool_off_threshold(request))
    total: int | None = attempts.aggregate(total=Sum("failures_since_start"))["total"]
    return total or 0
