"""Institutions, the people who work for them, and the API keys of their systems."""

import hashlib
import hmac
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.choices import InstitutionKind, InstitutionStatus, Role, Sector
from accounts.validators import (
    field_errors,
    validate_fields,
    validate_label,
    validate_name,
    validate_networks,
    validate_roles,
    validate_scopes,
    validate_uscc,
)


class Institution(models.Model):
    """A member lender, a regulator or the platform operator.

    Identified by its unified social credit code. A suspended institution's
    people cannot sign in and its keys are refused, everywhere.
    """

    code = models.CharField(_("unified social credit code"), max_length=18, unique=True, validators=[validate_uscc])
    name_zh = models.CharField(_("name (Chinese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=InstitutionKind.choices)
    # Members only; reports group members by it, and count a member without one as unspecified.
    sector = models.CharField(_("sector"), max_length=24, choices=Sector.choices, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=InstitutionStatus.choices, default=InstitutionStatus.ACTIVE
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("institution")
        verbose_name_plural = _("institutions")

    def __str__(self) -> str:
        return f"{self.name_en} ({self.code})"

    def clean(self) -> None:
        super().clean()
        validate_fields(self, validate_name, "name_zh", "name_en")
        if self.sector and self.kind != InstitutionKind.MEMBER:
            raise ValidationError({"sector": _("Only member institutions have a sector.")}, code="not_a_member")

    @property
    def is_active(self) -> bool:
        return self.status == InstitutionStatus.ACTIVE


class User(AbstractUser):
    """A person who signs in to the portal, always on behalf of one institution."""

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="users", verbose_name=_("institution")
    )
    roles = models.JSONField(_("roles"), default=list, blank=True)

    REQUIRED_FIELDS = ["email", "institution"]

    class Meta:
        ordering = ["username"]
        verbose_name = _("person")
        verbose_name_plural = _("people")

    is_api_key = False

    def clean(self) -> None:
        super().clean()
        validate_fields(self, validate_name, "first_name", "last_name")
        with field_errors("roles"):
            validate_roles(self.roles, self.institution.kind if self.institution_id else None)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The Django admin is the operators' tool: its sign-in form asks for is_staff, which
        # therefore follows the role however the person was changed (API, admin, command).
        self.is_staff = Role.OPERATOR in self.roles
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "is_staff"}
        super().save(*args, **kwargs)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles)


class ApiKey(models.Model):
    """A credential for a member institution's systems.

    The secret is shown once when issued; only its SHA-256 digest is stored
    (the secret is 256 random bits, so a fast hash is as safe as a slow one).
    The visible prefix identifies the key in listings, logs and the audit trail.
    """

    PREFIX_START = "rs_"

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="api_keys", verbose_name=_("institution")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    hashed_secret = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    allowed_networks = models.JSONField(_("allowed networks"), default=list, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    revoked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def clean(self) -> None:
        super().clean()
        validate_fields(self, validate_label, "name")
        with field_errors("scopes"):
            validate_scopes(self.scopes, self.institution.kind if self.institution_id else None)
        with field_errors("allowed_networks"):
            validate_networks(self.allowed_networks)

    @staticmethod
    def digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.hashed_secret, self.digest(secret))

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
