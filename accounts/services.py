"""Domain logic that writes: membership, people and API keys.

Views, the admin and management commands all come through here, so a rule
(valid roles for the institution's kind, password strength, a key's secret
shown once) holds however the change is made.
"""

import secrets
import string
from datetime import datetime
from typing import Any, TypeVar

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.choices import InstitutionStatus, Role
from accounts.models import ApiKey, Institution, User
from accounts.permissions import can_grant_role
from accounts.validators import field_errors

ModelT = TypeVar("ModelT", Institution, User, ApiKey)

PREFIX_ALPHABET = string.ascii_lowercase + string.digits
PREFIX_LENGTH = 8


def create_institution(*, code: str, name_zh: str, name_en: str, kind: str, sector: str = "") -> Institution:
    institution = Institution(code=code.strip().upper(), name_zh=name_zh, name_en=name_en, kind=kind, sector=sector)
    institution.full_clean()
    institution.save()
    return institution


def check_status_change(institution: Institution, status: str, *, by: User | None) -> None:
    """Operators cannot suspend their own institution: that would lock every operator out.

    ``by`` is None for commands run on the platform's own machines, which need no such guard.
    """
    if status == InstitutionStatus.SUSPENDED and by is not None and institution.pk == by.institution.pk:
        raise ValidationError(
            {"status": ValidationError(_("You cannot suspend your own institution."), code="self_lockout")}
        )


@transaction.atomic
def update_institution(institution: Institution, *, by: User | None, **changes: Any) -> Institution:
    """Rename, suspend or reactivate.

    Suspension takes effect on the next request of every person and key of the
    institution.
    """
    institution = Institution.objects.select_for_update().get(pk=institution.pk)
    if "status" in changes:
        check_status_change(institution, changes["status"], by=by)
    return _save_changes(institution, changes)


def _save_changes(obj: ModelT, changes: dict[str, Any], *also: str) -> ModelT:
    """Validate and write only the fields that change, on a row the caller has locked.

    Writing every column back from a copy read earlier would undo whatever another
    request committed in between: a revocation, a suspension, a deactivation.
    """
    for name, value in changes.items():
        setattr(obj, name, value)
    obj.full_clean()
    fields = {*changes, *also} | ({"updated_at"} if hasattr(obj, "updated_at") else set())
    obj.save(update_fields=fields)
    return obj


def create_user(
    *,
    institution: Institution,
    username: str,
    email: str,
    roles: list[str],
    password: str | None,
    first_name: str = "",
    last_name: str = "",
    by: User | None = None,
) -> User:
    """A person of ``institution``. Without a password they cannot sign in until one is set.

    ``by`` is the person creating them; None for commands run on the platform's machines.
    """
    check_role_grant(roles, [], by=by)
    user = User(
        institution=institution,
        username=username,
        email=email,
        roles=sorted(set(roles)),
        first_name=first_name,
        last_name=last_name,
    )
    if password is None:
        user.set_unusable_password()
    else:
        set_password(user, password)
    user.full_clean()
    user.save()
    return user


def check_role_grant(roles: list[str], current: list[str], *, by: User | None) -> None:
    """Only operators make operators: the role opens the admin and every institution."""
    granted = set(roles) - set(current)
    if by is not None and not all(can_grant_role(by, role) for role in granted):
        raise ValidationError(
            {
                "roles": ValidationError(
                    _("Only a platform operator can give the operator role."), code="role_not_grantable"
                )
            }
        )


def set_password(user: User, password: str) -> None:
    """Set a password that passes the platform's password rules, or say which it breaks."""
    with field_errors("password"):
        validate_password(password, user)
    user.set_password(password)


@transaction.atomic
def update_user(user: User, *, by: User, **changes: Any) -> User:
    """Change a person's details, roles or activity.

    An admin cannot deactivate themself or drop their own admin role, so an
    institution is never left without the person who could repair it.
    """
    if user.pk == by.pk:
        if changes.get("is_active") is False:
            raise ValidationError(
                {"is_active": ValidationError(_("You cannot deactivate yourself."), code="self_lockout")}
            )
        if "roles" in changes and Role.INSTITUTION_ADMIN not in changes["roles"]:
            raise ValidationError(
                {"roles": ValidationError(_("You cannot remove your own admin role."), code="self_lockout")}
            )
    user = User.objects.select_for_update().get(pk=user.pk)
    if "roles" in changes:
        changes["roles"] = sorted(set(changes["roles"]))
        check_role_grant(changes["roles"], user.roles, by=by)
    return _save_changes(user, changes)


def new_key_material() -> tuple[str, str]:
    """A visible prefix and the whole key (``rs_xxxxxxxx.<43 random characters>``)."""
    prefix = ApiKey.PREFIX_START + "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    return prefix, f"{prefix}.{secrets.token_urlsafe(32)}"


@transaction.atomic
def issue_api_key(
    *,
    institution: Institution,
    name: str,
    scopes: list[str],
    allowed_networks: list[str] | None = None,
    expires_at: datetime | None = None,
    created_by: User | None = None,
    material: tuple[str, str] | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key and return it with its secret, which is never available again."""
    prefix, secret = material or new_key_material()
    key = ApiKey(
        institution=institution,
        name=name,
        prefix=prefix,
        hashed_secret=ApiKey.digest(secret),
        scopes=sorted(set(scopes)),
        allowed_networks=allowed_networks or [],
        expires_at=expires_at,
        created_by=created_by,
    )
    key.full_clean()
    key.save()
    return key, secret


@transaction.atomic
def update_api_key(key: ApiKey, **changes: Any) -> ApiKey:
    """Rename a key or change its scopes, networks or expiry.

    A revoked or expired key stays as it was: bringing a dead key back to life
    would hand its old secret, wherever it has been copied, a new lease.
    """
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.is_revoked:
        raise ValidationError(_("A revoked key cannot be changed."), code="api_key_revoked")
    if key.is_expired:
        raise ValidationError(_("An expired key cannot be changed; issue a new one."), code="api_key_expired")
    return _save_changes(key, changes)


def revoke_api_key(key: ApiKey, *, by: User | None = None) -> ApiKey:
    """Revoke for good; revoking twice keeps the first time and person."""
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_by=by)
    key.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return key
