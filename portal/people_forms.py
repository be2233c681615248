"""The portal's forms for institution admins: adding and changing people, issuing API keys.

They give the browser's input its shape and nothing more. The rules (which roles and scopes an
institution of each kind may have, password strength, unique user names, who may give the operator
role, that admins cannot lock themselves out) live in ``accounts.services`` and
``accounts.validators``; the views call those and put their errors back on these forms' fields
with ``config.forms.show_errors``.
"""

import hashlib
import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.choices import ROLES_BY_KIND, SCOPES_BY_KIND, Role, Scope
from accounts.models import User
from accounts.validators import validate_expiry
from config.parsers import validate_storable_datetime


class KindChoicesMixin:
    """Checkboxes offer only what an institution of the caller's kind may have.

    The fields accept every known value, so that a value the kind may not have reaches the
    service and is refused there, in the service's words, like any other of its rules.
    """

    fields: dict[str, forms.Field]

    def offer_only(self, name: str, choices: Any, allowed: frozenset[str]) -> None:
        widget = self.fields[name].widget
        assert isinstance(widget, forms.CheckboxSelectMultiple)
        widget.choices = [(value, label) for value, label in choices if value in allowed]


class PersonForm(KindChoicesMixin, forms.Form):
    """A person's details and roles, as an admin changes them; the user name never changes."""

    email = forms.EmailField(label=_("Email"), max_length=254)
    last_name = forms.CharField(label=_("Family name"), max_length=150, required=False)
    first_name = forms.CharField(label=_("Given name"), max_length=150, required=False)
    roles = forms.MultipleChoiceField(
        label=_("Roles"), choices=Role.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    is_active = forms.BooleanField(
        label=_("Active: may sign in"),
        required=False,
        help_text=_("A deactivated person cannot sign in; their history stays."),
    )

    # The person as the page showed them: a save from a page opened before someone else's change
    # must not undo that change (a deactivation above all).
    shown = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offer_only("roles", Role.choices, ROLES_BY_KIND[kind])

    @staticmethod
    def initial_for(user: User) -> dict[str, Any]:
        values = {
            "email": user.email,
            "last_name": user.last_name,
            "first_name": user.first_name,
            "roles": sorted(user.roles),
            "is_active": user.is_active,
        }
        return {**values, "shown": hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()}

    def shows(self, user: User) -> bool:
        """Whether the page this form came from showed ``user`` as they are now."""
        return bool(self.cleaned_data["shown"] == self.initial_for(user)["shown"])

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data if name != "shown"}


class AddPersonForm(PersonForm):
    """A new person of the admin's institution, with an initial password or none."""

    shown = None  # type: ignore[assignment]  # nobody else can have changed a person not yet added
    username = forms.CharField(label=_("User name"), max_length=150)
    password = forms.CharField(
        label=_("Initial password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Optional. Without one, the person cannot sign in until a password is set."),
    )
    field_order = ["username", "email", "last_name", "first_name", "roles", "password"]

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, kind=kind, **kwargs)
        del self.fields["is_active"]  # a new person is active; services.create_user decides

    def clean_password(self) -> str | None:
        password: str = self.cleaned_data["password"]
        return password or None


class IssueKeyForm(KindChoicesMixin, forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("Which system uses the key, so that you recognise it later.")
    )
    scopes = forms.MultipleChoiceField(label=_("Scopes"), choices=Scope.choices, widget=forms.CheckboxSelectMultiple)
    allowed_networks = forms.CharField(
        label=_("Allowed networks"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_("One IP address or CIDR network per line, such as 203.0.113.0/24. Empty: any address."),
    )
    expires_at = forms.DateTimeField(
        label=_("Expires"),
        required=False,
        validators=[validate_storable_datetime],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Optional. Empty: the key does not expire until it is revoked."),
    )

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offer_only("scopes", Scope.choices, SCOPES_BY_KIND[kind])

    def clean_allowed_networks(self) -> list[str]:
        text: str = self.cleaned_data["allowed_networks"]
        return [line.strip() for line in text.splitlines() if line.strip()]

    def clean_expires_at(self) -> Any:
        expires_at = self.cleaned_data["expires_at"]
        validate_expiry(expires_at)
        return expires_at
