from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.defaults import page_not_found, server_error
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import ReadinessView, healthz
from config.problems import problem_response

urlpatterns = [
    path("api/v1/", include("accounts.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    path("readyz", ReadinessView.as_view(), name="readyz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("accounts.urls")),
]


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return problem_response(request, 404, "not_found", "No such resource.")
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    """The caller learns that it failed and the request id to quote, never why."""
    if request.path.startswith("/api/"):
        return problem_response(request, 500, "internal_error", "The platform failed; quote the request id.")
    return server_error(request)
