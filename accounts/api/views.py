from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import auditproof, sealing, selectors, services
from accounts.api.auditing import AuditedMixin
from accounts.api.scoping import InstitutionScopedMixin
from accounts.api.serializers import (
    ApiKeySerializer,
    AuditEventSerializer,
    AuditPublicKeySerializer,
    InstitutionSerializer,
    InstitutionUpdateSerializer,
    IssuedApiKeySerializer,
    MeSerializer,
    UserSerializer,
    UserUpdateSerializer,
)
from accounts.authentication import caller_institution, caller_person
from accounts.choices import AuditAction
from accounts.filters import AuditEventFilter
from accounts.models import ApiKey, AuditEvent, Institution, User
from accounts.permissions import AUDIT_READERS, EVERYONE, OPERATORS, PEOPLE_MANAGERS, ActionAllowed
from config.pagination import NewestFirstCursorPagination


class MeView(AuditedMixin, APIView):
    """Who is calling: the person or key, its institution, and its roles or scopes."""

    permission_classes = [ActionAllowed]
    allow = {"get": EVERYONE}
    audit_actions = {"get": AuditAction.ME_VIEW}

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)


class InstitutionViewSet(
    AuditedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Institution],
):
    """Operators register, rename, suspend and reactivate institutions; members read their own."""

    permission_classes = [ActionAllowed]
    allow = {
        "list": EVERYONE,
        "retrieve": EVERYONE,
        "create": OPERATORS,
        "partial_update": OPERATORS,
    }
    audit_actions = {
        "list": AuditAction.INSTITUTION_LIST,
        "retrieve": AuditAction.INSTITUTION_VIEW,
        "create": AuditAction.INSTITUTION_CREATE,
        "partial_update": AuditAction.INSTITUTION_UPDATE,
    }
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_fields = ["kind", "status"]

    def get_queryset(self) -> QuerySet[Institution]:
        if getattr(self, "swagger_fake_view", False):  # The schema generator has no caller.
            return Institution.objects.none()
        return selectors.institutions_visible_to(self.request.user)

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Institution]]:
        return InstitutionUpdateSerializer if self.action == "partial_update" else InstitutionSerializer

    def perform_create(self, serializer: serializers.BaseSerializer[Institution]) -> None:
        serializer.instance = self.audit_target = services.create_institution(**serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer[Institution]) -> None:
        assert isinstance(serializer.instance, Institution)
        serializer.instance = services.update_institution(
            serializer.instance, by=caller_person(self.request), **serializer.validated_data
        )


class InstitutionContextMixin(InstitutionScopedMixin):
    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "institution": caller_institution(self.request)}


class UserViewSet(
    AuditedMixin,
    InstitutionContextMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[User],
):
    """An institution admin manages the people of their own institution."""

    queryset = User.objects.select_related("institution").order_by("username", "id")
    permission_classes = [ActionAllowed]
    allow = {
        "list": PEOPLE_MANAGERS,
        "retrieve": PEOPLE_MANAGERS,
        "create": PEOPLE_MANAGERS,
        "partial_update": PEOPLE_MANAGERS,
    }
    audit_actions = {
        "list": AuditAction.USER_LIST,
        "retrieve": AuditAction.USER_VIEW,
        "create": AuditAction.USER_CREATE,
        "partial_update": AuditAction.USER_UPDATE,
    }
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_fields = ["is_active"]

    def get_serializer_class(self) -> type[UserSerializer]:
        return UserUpdateSerializer if self.action == "partial_update" else UserSerializer

    def perform_create(self, serializer: serializers.BaseSerializer[User]) -> None:
        data = dict(serializer.validated_data)
        data.pop("is_active", None)
        serializer.instance = self.audit_target = services.create_user(
            institution=caller_institution(self.request),
            by=caller_person(self.request),
            password=data.pop("password", None),
            **data,
        )

    def perform_update(self, serializer: serializers.BaseSerializer[User]) -> None:
        assert isinstance(serializer.instance, User)
        serializer.instance = services.update_user(
            serializer.instance, by=caller_person(self.request), **serializer.validated_data
        )


class ApiKeyViewSet(
    AuditedMixin,
    InstitutionContextMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[ApiKey],
):
    """An institution admin issues, edits and revokes the keys of their institution's systems.

    The whole key is in the answer to the request that issues it, and never again.
    """

    queryset = ApiKey.objects.select_related("created_by", "revoked_by").order_by("-created_at", "-id")
    permission_classes = [ActionAllowed]
    allow = {
        "list": PEOPLE_MANAGERS,
        "retrieve": PEOPLE_MANAGERS,
        "create": PEOPLE_MANAGERS,
        "partial_update": PEOPLE_MANAGERS,
        "revoke": PEOPLE_MANAGERS,
    }
    audit_actions = {
        "list": AuditAction.APIKEY_LIST,
        "retrieve": AuditAction.APIKEY_VIEW,
        "create": AuditAction.APIKEY_ISSUE,
        "partial_update": AuditAction.APIKEY_UPDATE,
        "revoke": AuditAction.APIKEY_REVOKE,
    }
    http_method_names = ["get", "post", "patch", "head", "options"]
    serializer_class = ApiKeySerializer

    @extend_schema(responses={201: IssuedApiKeySerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, secret = services.issue_api_key(
            institution=caller_institution(request),
            created_by=caller_person(request),
            **serializer.validated_data,
        )
        self.audit_target = key
        data = IssuedApiKeySerializer(key, context=self.get_serializer_context()).data
        return Response({**data, "key": secret}, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: serializers.BaseSerializer[ApiKey]) -> None:
        assert isinstance(serializer.instance, ApiKey)
        serializer.instance = services.update_api_key(serializer.instance, **serializer.validated_data)

    @extend_schema(request=None, responses=ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        key = services.revoke_api_key(self.get_object(), by=caller_person(request))
        return Response(self.get_serializer(key).data)


class NotSealedYet(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_sealed_yet"
    default_detail = "The event is not sealed yet; its proof exists after the next sealing run."


class AuditEventViewSet(AuditedMixin, mixins.ListModelMixin, viewsets.GenericViewSet[AuditEvent]):
    """The audit trail: an institution's auditors read its events, regulator staff read all.

    ``proof`` exports an event's inclusion proof against its signed checkpoint, which
    ``python -m accounts.auditproof`` checks with nothing but the public key.
    """

    serializer_class = AuditEventSerializer
    permission_classes = [ActionAllowed]
    allow = {"list": AUDIT_READERS, "proof": AUDIT_READERS}
    audit_actions = {"list": AuditAction.AUDIT_LIST, "proof": AuditAction.AUDIT_PROOF}
    pagination_class = NewestFirstCursorPagination
    filterset_class = AuditEventFilter

    def get_queryset(self) -> QuerySet[AuditEvent]:
        if getattr(self, "swagger_fake_view", False):  # The schema generator has no caller.
            return AuditEvent.objects.none()
        return selectors.audit_events_visible_to(self.request.user)

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 409: OpenApiResponse(description="`not_sealed_yet`: not sealed yet.")}
    )
    @action(detail=True, methods=["get"])
    def proof(self, request: Request, pk: str | None = None) -> Response:
        try:
            return Response(sealing.inclusion_proof(self.get_object()))
        except sealing.NotSealedYet:
            raise NotSealedYet() from None


class AuditPublicKeyView(APIView):
    """The public half of the key that signs audit checkpoints: anyone may fetch it to check proofs."""

    permission_classes = [AllowAny]
    authentication_classes: list[type[Any]] = []

    @extend_schema(responses=AuditPublicKeySerializer)
    def get(self, request: Request) -> Response:
        return Response(auditproof.published_key(sealing.public_key()))
