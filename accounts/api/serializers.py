from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from accounts.choices import AuditAction, Role, Scope
from accounts.models import ApiKey, AuditEvent, Institution, User
from accounts.permissions import roles_of, scopes_of
from accounts.validators import validate_expiry, validate_network, validate_roles, validate_scopes, validate_uscc


class UsccField(serializers.CharField):
    """A unified social credit code, accepted in any case and with stray spaces."""

    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value(data).replace(" ", "").upper()


class InstitutionSerializer(serializers.ModelSerializer[Institution]):
    code = UsccField(
        max_length=18,
        validators=[validate_uscc, UniqueValidator(Institution.objects.all(), message=_("This code is registered."))],
    )

    class Meta:
        model = Institution
        fields = ["id", "code", "name_zh", "name_en", "kind", "sector", "status", "created_at", "updated_at"]
        read_only_fields = ["id", "status", "created_at", "updated_at"]


class InstitutionUpdateSerializer(serializers.ModelSerializer[Institution]):
    """Operators rename, set a member's sector, and suspend or reactivate; the code and kind never change."""

    class Meta:
        model = Institution
        fields = ["id", "code", "name_zh", "name_en", "kind", "sector", "status", "created_at", "updated_at"]
        read_only_fields = ["id", "code", "kind", "created_at", "updated_at"]


class InstitutionSummarySerializer(serializers.ModelSerializer[Institution]):
    class Meta:
        model = Institution
        fields = ["id", "code", "name_zh", "name_en", "kind", "sector", "status"]
        read_only_fields = fields


class InstitutionKindMixin:
    """Serializers whose choices depend on the caller's institution kind."""

    context: dict[str, Any]

    @property
    def institution(self) -> Institution:
        institution: Institution = self.context["institution"]
        return institution


class UserSerializer(InstitutionKindMixin, serializers.ModelSerializer[User]):
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices), allow_empty=True)
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "roles",
            "is_active",
            "last_login",
            "date_joined",
            "password",
        ]
        read_only_fields = ["id", "last_login", "date_joined"]
        extra_kwargs = {"email": {"required": True, "allow_blank": False}}

    def validate_roles(self, roles: list[str]) -> list[str]:
        validate_roles(roles, self.institution.kind)
        return sorted(set(roles))


class UserUpdateSerializer(UserSerializer):
    """No password here: an admin who could set a colleague's password could act as them.

    People change their own password in the portal, where the current one is asked for.
    """

    password = None  # type: ignore[assignment]

    class Meta(UserSerializer.Meta):
        fields = [name for name in UserSerializer.Meta.fields if name != "password"]
        read_only_fields = ["id", "username", "last_login", "date_joined"]


class ApiKeySerializer(InstitutionKindMixin, serializers.ModelSerializer[ApiKey]):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices), allow_empty=False)
    allowed_networks = serializers.ListField(
        child=serializers.CharField(validators=[validate_network]),
        required=False,
        default=list,
        help_text="Addresses or CIDR networks the key may be used from; empty means anywhere.",
    )
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(slug_field="username", read_only=True)
    revoked_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "allowed_networks",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "revoked_by",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "prefix", "last_used_at", "revoked_at", "revoked_by", "created_by", "created_at"]

    def validate_scopes(self, scopes: list[str]) -> list[str]:
        validate_scopes(scopes, self.institution.kind)
        return sorted(set(scopes))

    def validate_expires_at(self, value: Any) -> Any:
        validate_expiry(value)
        return value


class IssuedApiKeySerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The whole key. Shown this once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class MeSerializer(serializers.Serializer[Any]):
    kind = serializers.SerializerMethodField()
    username = serializers.SerializerMethodField()
    api_key = serializers.SerializerMethodField()
    institution = InstitutionSummarySerializer()
    roles = serializers.SerializerMethodField()
    scopes = serializers.SerializerMethodField()

    def get_kind(self, caller: Any) -> str:
        return "api_key" if caller.is_api_key else "person"

    def get_username(self, caller: Any) -> str | None:
        return None if caller.is_api_key else str(caller.username)

    def get_api_key(self, caller: Any) -> dict[str, str] | None:
        if not caller.is_api_key:
            return None
        return {"name": caller.key.name, "prefix": caller.key.prefix}

    def get_roles(self, caller: Any) -> list[str]:
        return roles_of(caller)

    def get_scopes(self, caller: Any) -> list[str]:
        return scopes_of(caller)


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    # Declared from the registry: the column keeps no choices, and the schema still lists the codes.
    action = serializers.ChoiceField(choices=AuditAction.choices, read_only=True, label=_("Action"))
    sealed = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "action",
            "outcome",
            "reason",
            "institution",
            "actor_type",
            "actor_name",
            "target_type",
            "target_id",
            "purpose",
            "consent_reference",
            "subjects_count",
            "hits_count",
            "request_id",
            "source_address",
            "sealed",
        ]
        read_only_fields = fields

    def get_sealed(self, event: AuditEvent) -> bool:
        return hasattr(event, "seal")


class AuditPublicKeySerializer(serializers.Serializer[Any]):
    algorithm = serializers.CharField()
    key_id = serializers.CharField()
    public_key_pem = serializers.CharField()
    public_key_hex = serializers.CharField()
