from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.defaults import bad_request, page_not_found, permission_denied, server_error
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from config.health import ReadinessView, TrafficReadinessView, healthz
from config.problems import problem_response


def favicon(request: HttpRequest) -> HttpResponse:
    return redirect(static("portal/favicon.svg"), permanent=True)


urlpatterns = [
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("sharing.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs page is only Swagger UI's shell; the schema it loads needs a signed-in person or a key.
    # Swagger UI sets inline styles from its own script (served from here, as the split view's
    # second file): the one page whose policy allows inline styles. Inline scripts stay refused.
    path(
        "api/docs/",
        csp_update({"style-src": [UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="schema", permission_classes=[AllowAny])
        ),
        name="api-docs",
    ),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's).
    path("favicon.ico", favicon),
    path("healthz", healthz, name="healthz"),
    path("readyz", ReadinessView.as_view(), name="readyz"),
    path("readyz/traffic", TrafficReadinessView.as_view(), name="readyz-traffic"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("portal.urls")),
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
