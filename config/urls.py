from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.defaults import bad_request, page_not_found, permission_denied, server_error
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from config.health import ReadinessView, healthz
from config.problems import problem_response

urlpatterns = [
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("sharing.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs page is only Swagger UI's shell; the schema it loads needs a signed-in person or a key.
    path(
        "api/docs/", SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[AllowAny]), name="api-docs"
    ),
    path("healthz", healthz, name="healthz"),
    path("readyz", ReadinessView.as_view(), name="readyz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("reports/", include("sharing.urls")),
    path("", include("accounts.urls")),
]


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return problem_response(request, 404, "not_found", "No such resource.")
    return page_not_found(request, exception)


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A request Django refuses before any view: an unknown Host, a body over the size limit."""
    if request.path.startswith("/api/"):
        return problem_response(request, 400, "bad_request", "The request cannot be processed.")
    return bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return problem_response(request, 403, "permission_denied", "You do not have permission to do this.")
    return permission_denied(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    """The caller learns that it failed and the request id to quote, never why."""
    if request.path.startswith("/api/"):
        return problem_response(request, 500, "internal_error", "The platform failed; quote the request id.")
    return server_error(request)
