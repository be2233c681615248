"""Validation of institution codes, roles, scopes and network allow-lists.

Each validator raises a plain ``ValidationError`` with a stable code, so the
same function serves a model's ``clean`` (wrapped with ``field_errors``) and a
serializer's ``validate_<field>`` (which DRF converts, codes and all).
"""

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from accounts.choices import ROLES_BY_KIND, SCOPES_BY_KIND, InstitutionKind, Role, Scope
from memberkit import identifiers, labels
from memberkit.text import has_control

USCC_MESSAGES = {
    "bad_length": _("A unified social credit code has 18 characters."),
    "bad_characters": _("A unified social credit code uses only 0-9 and A-Y without I, O, S, V and Z."),
    "bad_checksum": _("The check character of this code is wrong."),
}


def validate_uscc(value: str) -> None:
    """A unified social credit code (GB 32100), exactly as the identifier standard reads it."""
    if identifiers.clean(value) != value:  # stored codes are canonical: no spaces, separators or lower case
        raise ValidationError(USCC_MESSAGES["bad_characters"], code="bad_characters")
    try:
        identifiers.normalize("uscc", value)
    except identifiers.InvalidIdentifier as error:
        raise ValidationError(USCC_MESSAGES[error.reason], code=error.reason) from None


# The messages are written once, in memberkit.labels (which the member kit shares); here they are translated.
CONTROL_MESSAGE = _(labels.CONTROL_MESSAGE)
IDENTIFIER_MESSAGE = _(labels.MESSAGE)


def validate_name(value: str) -> None:
    """A name people read (an institution's, a person's): no control character, which could make it read
    as something else on a page or in the audit trail (memberkit.text.has_control)."""
    if has_control(value):
        raise ValidationError(CONTROL_MESSAGE, code=labels.CONTROL_REASON)


def validate_label(value: str) -> None:
    """A label a member chooses and the platform keeps in clear (a reference, a correlation id, a consent
    reference, a portfolio, a key's or a file's name): a name, that holds no identifier (memberkit.labels)."""
    validate_name(value)
    if labels.holds_identifier(value):
        raise ValidationError(IDENTIFIER_MESSAGE, code=labels.REASON)


def validate_file_name(file: object) -> None:
    """An uploaded file's name is a label too: the job pages and the API show it."""
    validate_label(str(getattr(file, "name", "") or ""))


def validate_fields(instance: object, validator: Callable[[str], None], *names: str) -> None:
    """``validator`` on each named text attribute of ``instance``, every refusal on its field (a model's ``clean``)."""
    errors: dict[str, list[ValidationError]] = {}
    for name in names:
        try:
            validator(getattr(instance, name) or "")
        except ValidationError as error:
            errors[name] = error.error_list
    if errors:
        raise ValidationError(errors)


def validate_network(value: str) -> None:
    """An IPv4 or IPv6 address or network in CIDR notation, such as 203.0.113.0/24."""
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValidationError(
            _("%(value)s is not an IP address or network (CIDR)."), code="bad_network", params={"value": value}
        ) from None


def validate_networks(networks: object) -> None:
    if not isinstance(networks, list) or not all(isinstance(network, str) for network in networks):
        raise ValidationError(_("Give a list of addresses or networks."), code="invalid")
    for network in networks:
        validate_network(network)


def validate_roles(roles: object, kind: str | None) -> None:
    """Known roles that exist at an institution of ``kind`` (the operator role only at the operator, ...)."""
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise ValidationError(_("Give a list of roles."), code="invalid")
    _check_choices(roles, Role, ROLES_BY_KIND, kind, _("A %(kind)s has no such roles: %(names)s."), "role_not_allowed")


def validate_scopes(scopes: object, kind: str | None) -> None:
    """At least one known scope that keys of an institution of ``kind`` may hold."""
    if not isinstance(scopes, list) or not scopes or not all(isinstance(scope, str) for scope in scopes):
        raise ValidationError(_("Give at least one scope."), code="invalid")
    _check_choices(
        scopes,
        Scope,
        SCOPES_BY_KIND,
        kind,
        _("Keys of a %(kind)s cannot hold: %(names)s."),
        "scope_not_allowed",
    )


def validate_expiry(expires_at: datetime | None) -> None:
    """A key's expiry, when it has one, lies ahead: a key issued already expired is a mistake.

    Not a model rule: an expired key stays valid data, and commands and tests issue such keys.
    """
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError(_("The expiry must lie in the future."), code="expiry_in_past")


def _check_choices(
    values: list[str],
    choices: type[Role] | type[Scope],
    by_kind: dict[str, frozenset[str]],
    kind: str | None,
    message: StrOrPromise,
    code: str,
) -> None:
    unknown = sorted(set(values) - set(choices.values))
    if unknown:
        raise ValidationError(_("Unknown: %(names)s.") % {"names": ", ".join(unknown)}, code="invalid_choice")
    if kind is None:
        return
    not_allowed = sorted(set(values) - by_kind[kind])
    if not_allowed:
        labels = ", ".join(str(choices(value).label) for value in not_allowed)
        raise ValidationError(message % {"kind": str(InstitutionKind(kind).label).lower(), "names": labels}, code=code)


@contextmanager
def field_errors(field: str) -> Iterator[None]:
    """Attach the errors a validator raises to ``field``, as a model's ``clean`` must."""
    try:
        yield
    except ValidationError as error:
        raise ValidationError({field: error.error_list}) from None
