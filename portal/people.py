"""The portal's pages for institution admins: their institution's people and API keys.

They do what the API's UserViewSet and ApiKeyViewSet do, through the same services, and record
the same audit events. Another institution's person or key answers 404, as in the API.
"""

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import services
from accounts.authentication import person_holding
from accounts.choices import AuditAction, Role, Scope
from accounts.models import ApiKey, User
from accounts.permissions import PEOPLE_MANAGERS
from config.forms import show_errors
from portal.auditing import audit, audited, skip_audit
from portal.people_forms import AddPersonForm, IssueKeyForm, PersonForm


def _admin(request: HttpRequest) -> User:
    return person_holding(request, PEOPLE_MANAGERS)


def _labels(values: list[str], choices: type[Role] | type[Scope]) -> list[str]:
    """Roles or scopes in words, in the vocabulary's own order."""
    return [str(label) for value, label in choices.choices if value in values]


@login_required
@audited(AuditAction.USER_LIST)
def people(request: HttpRequest) -> HttpResponse:
    """The institution's people, and the form that adds one."""
    admin = _admin(request)
    institution = admin.institution
    form = AddPersonForm(request.POST if request.method == "POST" else None, kind=institution.kind)
    if form.is_bound and form.is_valid():
        try:
            added = services.create_user(institution=institution, by=admin, **form.cleaned_data)
        except ValidationError as error:
            show_errors(form, error)
        else:
            audit(request, action=AuditAction.USER_CREATE, target=added)
            messages.success(request, _("%(username)s was added.") % {"username": added.username})
            return redirect("portal:people")
    found = User.objects.filter(institution=institution).order_by("username", "id")
    rows = [(user, _labels(user.roles, Role)) for user in found]
    return render(request, "portal/people.html", {"rows": rows, "form": form})


@login_required
@audited(AuditAction.USER_VIEW)
def person(request: HttpRequest, pk: int) -> HttpResponse:
    """One person of the institution: details, roles and whether they may sign in."""
    admin = _admin(request)
    user = get_object_or_404(User, pk=pk, institution=admin.institution)
    audit(request, target=user)
    data = request.POST if request.method == "POST" else None
    form = PersonForm(data, kind=admin.institution.kind, initial=PersonForm.initial_for(user))
    if form.is_bound and form.is_valid():
        if not form.shows(user):
            messages.warning(
                request,
                _("Someone changed %(username)s after you opened the page; here is how they are now.")
                % {"username": user.username},
            )
            skip_audit(request)
            return redirect("portal:person", pk=user.pk)
        try:
            services.update_user(user, by=admin, **form.changes())
        except ValidationError as error:
            show_errors(form, error)
        else:
            audit(request, action=AuditAction.USER_UPDATE, target=user)
            messages.success(request, _("The changes to %(username)s were saved.") % {"username": user.username})
            return redirect("portal:person", pk=user.pk)
    context = {"person": user, "roles": _labels(user.roles, Role), "form": form}
    return render(request, "portal/person.html", context)


@never_cache  # above all for the answer that shows a new key: no cache may keep it
@login_required
@audited(AuditAction.APIKEY_LIST)
def api_keys(request: HttpRequest) -> HttpResponse:
    """The institution's keys, and the form that issues one.

    The whole key is in the answer to the POST that issues it and nowhere else: not in the
    session, not in a message, not behind a redirect. Reloading the list cannot show it again.
    """
    admin = _admin(request)
    institution = admin.institution
    form = IssueKeyForm(request.POST if request.method == "POST" else None, kind=institution.kind)
    if form.is_bound and _sent_before(request):
        # The browser's reload of the page that showed a key sends its form again: issue nothing.
        messages.warning(request, _("That form has issued its key already; a key is shown only once."))
        skip_audit(request)
        return redirect("portal:api_keys")
    if form.is_bound and form.is_valid():
        try:
            key, secret = services.issue_api_key(institution=institution, created_by=admin, **form.cleaned_data)
        except ValidationError as error:
            show_errors(form, error)
        else:
            audit(request, action=AuditAction.APIKEY_ISSUE, target=key)
            if once := request.POST.get("once", ""):
                request.session[ISSUED_FORMS] = [*request.session.get(ISSUED_FORMS, [])[-9:], once]
            context = {"key": key, "secret": secret, "scopes": _labels(key.scopes, Scope)}
            return render(request, "portal/api_key_issued.html", context)
    found = ApiKey.objects.filter(institution=institution).select_related("created_by", "revoked_by")
    rows = [(key, _labels(key.scopes, Scope)) for key in found.order_by("-created_at", "-id")]
    context = {"rows": rows, "form": form, "once": secrets.token_urlsafe(16)}
    return render(request, "portal/api_keys.html", context)


ISSUED_FORMS = "issued_key_forms"


def _sent_before(request: HttpRequest) -> bool:
    """Whether this issue form (named by its one-time ``once`` field) has issued a key already.

    The session keeps only the names of the last ten forms that issued a key, never a key.
    """
    once = request.POST.get("once", "")
    return bool(once) and once in request.session.get(ISSUED_FORMS, [])


@login_required
@require_POST
@audited(AuditAction.APIKEY_REVOKE, changes=True)
def revoke_api_key(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the institution's keys for good; its systems are refused from the next request."""
    admin = _admin(request)
    key = get_object_or_404(ApiKey, pk=pk, institution=admin.institution)
    services.revoke_api_key(key, by=admin)
    audit(request, target=key)
    messages.success(
        request, _("The key %(name)s (%(prefix)s) was revoked.") % {"name": key.name, "prefix": key.prefix}
    )
    return redirect("portal:api_keys")
