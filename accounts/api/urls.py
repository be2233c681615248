from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api.views import ApiKeyViewSet, InstitutionViewSet, MeView, UserViewSet

router = SimpleRouter(trailing_slash=False)
router.register("institutions", InstitutionViewSet, basename="institution")
router.register("users", UserViewSet, basename="user")
router.register("api-keys", ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("me", MeView.as_view(), name="me"),
    *router.urls,
]
