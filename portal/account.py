"""The portal's sign-in, sign-out, password and home pages."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _

from accounts.authentication import caller_person
from accounts.choices import AuditAction, InstitutionKind, Role
from accounts.permissions import roles_of
from portal import dashboard
from portal.auditing import audit, audited


class SignInView(auth_views.LoginView):
    template_name = "portal/sign_in.html"
    redirect_authenticated_user = True


@method_decorator(audited(), name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    """People change their own password, giving the current one; the session survives the change."""

    template_name = "portal/password_change.html"
    success_url = reverse_lazy("portal:home")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        audit(self.request, action=AuditAction.PASSWORD_CHANGE, target=form.user)
        messages.success(self.request, _("Your password was changed."))
        return response


class SignOutView(auth_views.LogoutView):
    """Sign-out is a POST from a form with a CSRF token, never a link."""


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: object) -> HttpResponse:
    """What django-axes shows after too many failed sign-ins from one address, for one name or for any."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "portal/locked_out.html", {"cooloff_minutes": minutes}, status=429)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Who the person is and, for member staff, their institution's dashboard; where they may go is
    the navigation bar of every page (portal.navigation)."""
    person = caller_person(request)
    labels = dict(Role.choices)
    context: dict[str, object] = {"role_labels": [labels[role] for role in roles_of(person)]}
    if person.institution.kind == InstitutionKind.MEMBER:
        context["board"] = dashboard.member_dashboard(person, timezone.now())
    return render(request, "portal/home.html", context)
