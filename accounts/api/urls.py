from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api.views import (
    ApiKeyViewSet,
    AuditEventViewSet,
    AuditPublicKeyView,
    InstitutionViewSet,
    MeView,
    UserViewSet,
)

router = SimpleRouter(trailing_slash=False)
router.register("institutions", InstitutionViewSet, basename="institution")
router.register("users", UserViewSet, basename="user")
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("audit/events", AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("me", MeView.as_view(), name="me"),
    path("audit/public-key", AuditPublicKeyView.as_view(), name="audit-public-key"),
    *router.urls,
]
