"""The Django admin is the platform operators' tool, and only theirs."""

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_stubs_ext import StrOrPromise

from accounts import services
from accounts.audit import record
from accounts.authentication import caller_person
from accounts.choices import AuditAction
from accounts.models import ApiKey, AuditCheckpoint, AuditEvent, AuditVerification, Institution, User
from accounts.permissions import can_use_admin

# Access is by role (permissions.py), not by Django's groups and permissions.
admin.site.unregister(Group)


class AuditedAdmin(admin.ModelAdmin[Any]):
    """Changes made in the admin land in the audit trail like changes made through the API."""

    audit_create: AuditAction
    audit_update: AuditAction

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        record(self.audit_update if change else self.audit_create, request=request, target=obj)


class OperatorOnly:
    """Operators view and change; nothing is ever deleted here (history must stay whole)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_use_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_use_admin(request.user)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return can_use_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_use_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAudit(OperatorOnly):
    """The audit tables in the admin: operators read them; nothing here changes them."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditVerification)
class AuditVerificationAdmin(ReadOnlyAudit, admin.ModelAdmin[AuditVerification]):
    list_display = ["ran_at", "intact", "summary"]
    list_filter = ["intact"]


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAudit, admin.ModelAdmin[AuditCheckpoint]):
    list_display = ["number", "first_seq", "last_seq", "signed_at", "key_id", "merkle_root"]


class AuditActionFilter(admin.SimpleListFilter):
    """The actions of the registry, by label: the column keeps no choices (see AuditEvent.action).

    Django's own filter would list the column's distinct values, a scan of the whole trail.
    """

    title = _("action")
    parameter_name = "action__exact"  # the parameter Django's filter of a field with choices used

    def lookups(self, request: HttpRequest, model_admin: Any) -> Iterable[tuple[str, StrOrPromise]]:
        return AuditAction.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset if value is None else queryset.filter(action=value)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAudit, admin.ModelAdmin[AuditEvent]):
    list_display = [
        "id",
        "occurred_at",
        "action_label",
        "outcome",
        "actor_type",
        "actor_name",
        "institution",
        "target_type",
        "target_id",
    ]
    list_filter = [AuditActionFilter, "outcome", "actor_type"]
    search_fields = ["actor_name", "request_id", "target_id"]
    list_select_related = ["institution"]
    show_full_result_count = False
    readonly_fields = ["action_label"]

    @admin.display(description=_("action"), ordering="action")
    def action_label(self, event: AuditEvent) -> str:
        return event.get_action_display()

    def get_fields(self, request: HttpRequest, obj: AuditEvent | None = None) -> list[Any]:
        """An event's page shows the action's label in the action's place, as the list does."""
        fields = [name for name in super().get_fields(request, obj) if name != "action_label"]
        return ["action_label" if name == "action" else name for name in fields]


class InstitutionForm(forms.ModelForm[Institution]):
    """Keeps the API's rules in the admin: an operator cannot suspend their own institution."""

    request: HttpRequest

    class Meta:
        model = Institution
        fields = ["code", "name_zh", "name_en", "kind", "sector", "status"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk is not None and "status" in cleaned:
            services.check_status_change(self.instance, cleaned["status"], by=caller_person(self.request))
        return cleaned


@admin.register(Institution)
class InstitutionAdmin(OperatorOnly, AuditedAdmin):
    form = InstitutionForm
    audit_create = AuditAction.INSTITUTION_CREATE
    audit_update = AuditAction.INSTITUTION_UPDATE
    list_display = ["code", "name_zh", "name_en", "kind", "sector", "status", "created_at"]
    list_filter = ["kind", "sector", "status"]
    search_fields = ["code", "name_zh", "name_en"]

    def get_readonly_fields(self, request: HttpRequest, obj: Institution | None = None) -> list[str]:
        return ["code", "kind"] if obj is not None else []

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        # modelform_factory made this subclass of InstitutionForm for this request alone.
        return type(form.__name__, (form,), {"request": request})


class PersonCreationForm(AdminUserCreationForm[User]):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email", "institution", "roles")


class PersonChangeForm(UserChangeForm[User]):
    class Meta(UserChangeForm.Meta):
        model = User


@admin.register(User)
class PersonAdmin(OperatorOnly, UserAdmin[User], AuditedAdmin):
    audit_create = AuditAction.USER_CREATE
    audit_update = AuditAction.USER_UPDATE
    form = PersonChangeForm
    add_form = PersonCreationForm
    list_display = ["username", "email", "institution", "roles", "is_active", "last_login"]
    list_filter = ["is_active", "institution__kind"]
    search_fields = ["username", "email", "institution__code", "institution__name_en", "institution__name_zh"]
    list_select_related = ["institution"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Person"), {"fields": ("first_name", "last_name", "email", "institution", "roles")}),
        (_("Status"), {"fields": ("is_active", "last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"fields": ("username", "email", "institution", "roles", "password1", "password2")}),)
    readonly_fields = ["last_login", "date_joined"]


@admin.register(ApiKey)
class ApiKeyAdmin(OperatorOnly, admin.ModelAdmin[ApiKey]):
    """Keys are issued by institution admins (API) or with ``manage.py issue_api_key``; here they are revoked."""

    list_display = ["prefix", "name", "institution", "scopes", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["institution__kind"]
    search_fields = ["prefix", "name", "institution__code"]
    list_select_related = ["institution"]
    readonly_fields = [
        "institution",
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
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            services.revoke_api_key(key, by=caller_person(request))
            record(AuditAction.APIKEY_REVOKE, request=request, target=key)
        count = len(queryset)
        messages.success(
            request, ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", count) % {"count": count}
        )
