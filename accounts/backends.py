"""Sign-in for people: refused while their institution is suspended."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser

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
