"""A bare lookup view beside the platform's URLs, for bench/bench_query.py only.

``GET /bench/bare-query?token=<64 hex>`` takes a platform token (already keyed with the
pepper), runs the same single indexed lookup as matching does for one subject, and answers
a small JSON: no authentication, audit, reciprocity or quota. Only
``bench.settings_bare_query`` names this URLconf.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

from config.urls import handler400, handler403, handler404, handler500
from sharing.models import Flag

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def bare_query(request: HttpRequest) -> HttpResponse:
    try:
        token = bytes.fromhex(request.GET.get("token", ""))
    except ValueError:
        return JsonResponse({"error": "token must be hexadecimal"}, status=400)
    if len(token) != 32:
        return JsonResponse({"error": "token must be 32 bytes"}, status=400)
    rows = Flag.objects.filter(token=token, status__in=("active", "resolved")).values_list(
        "institution_id", "category", "event_date", "disputed", "status"
    )
    flags = [
        {"institution": institution, "category": category, "event_date": str(event), "disputed": disputed}
        for institution, category, event, disputed, _status in rows
    ]
    return JsonResponse({"hit": bool(flags), "flags": flags})


urlpatterns = [
    path("bench/bare-query", bare_query, name="bench-bare-query"),
    path("", include("config.urls")),
]
