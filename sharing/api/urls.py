from django.urls import path
from rest_framework.routers import SimpleRouter

from sharing.api.flags import FlagViewSet
from sharing.api.inspections import InspectionViewSet
from sharing.api.loans import LoanViewSet
from sharing.api.queries import QueryView
from sharing.api.reports import ReportPublicKeyView, ReportViewSet
from sharing.api.uploads import UploadViewSet

router = SimpleRouter(trailing_slash=False)
router.register("flags", FlagViewSet, basename="flag")
router.register("uploads", UploadViewSet, basename="upload")
router.register("loans", LoanViewSet, basename="loan")
router.register("inspections", InspectionViewSet, basename="inspection")
router.register("reports", ReportViewSet, basename="report")

urlpatterns = [
    path("queries", QueryView.as_view(), name="query"),
    # Before the router's reports/{id}, which would take "public-key" for an id.
    path("reports/public-key", ReportPublicKeyView.as_view(), name="report-public-key"),
    *router.urls,
]
