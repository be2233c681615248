from django.urls import path
from rest_framework.routers import SimpleRouter

from sharing.api.views import FlagViewSet, InspectionViewSet, QueryView, UploadViewSet

router = SimpleRouter(trailing_slash=False)
router.register("flags", FlagViewSet, basename="flag")
router.register("uploads", UploadViewSet, basename="upload")
router.register("inspections", InspectionViewSet, basename="inspection")

urlpatterns = [path("queries", QueryView.as_view(), name="query"), *router.urls]
