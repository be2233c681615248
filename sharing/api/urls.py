from rest_framework.routers import SimpleRouter

from sharing.api.views import FlagViewSet, UploadViewSet

router = SimpleRouter(trailing_slash=False)
router.register("flags", FlagViewSet, basename="flag")
router.register("uploads", UploadViewSet, basename="upload")

urlpatterns = router.urls
