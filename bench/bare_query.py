"""A bare view beside the platform's URLs, running a query's read statements, for bench/bench_query.py only.

``GET /bench/bare-query?institution=<id>&token=<64 hex>[&token=<64 hex>...]`` takes one subject's
platform tokens (already keyed with the pepper, one to five) and the asking institution's id, and
runs, in one statement as the platform's query does on PostgreSQL (``sharing.matching.queries``):

- the subject's flags, each token probing the flag tokens' index and each flag found its primary
  key, in the same LATERAL subqueries;
- the query records' insert for a lending purpose (``sharing.matching.records.insert_cte``, here
  unconditional: the bare view counts nothing, so every query is "answered");
- the multi-lender figures (``sharing.matching.lending.figures_sql`` over the subject's tokens).

``GET /bench/bare-query-prepared`` is the same view with its statement prepared once per
connection and planned once, as the platform prepares its own (``accounts.prepared``): the bare
view at its best, beside the plain Django view (``connection.cursor()``, as Django runs any
statement, parsed and planned every time).

It answers a small JSON of what it found. What the platform's statement does besides, and the
bare view does not: the caller's contributed categories (flag reciprocity), the usage counters
(quota and rate), whether it has reported loans lately (loan reciprocity); and around it, no
authentication, audit event, serializer or answer building. Only ``bench.settings_bare_query``
names this URLconf.
"""

from functools import cache

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.utils import timezone

from accounts import prepared
from config.urls import handler400, handler403, handler404, handler500
from memberkit.vocabulary import IDENTIFIERS_MAX, LENDING_FIGURES
from sharing.choices import FlagStatus
from sharing.matching import lending, records
from sharing.models import Flag, FlagToken

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

# The queries' purpose (a lending one, so that records are written) and pepper version, as bench_query sends.
PURPOSE = "loan_application"
PEPPER_VERSION = 1
STATUSES = [FlagStatus.ACTIVE.value, FlagStatus.RESOLVED.value]
COUNTS = [figure for figure in LENDING_FIGURES if figure != "open_amount_band"]


@cache
def statement() -> str:
    """The flags through their tokens, the records' insert and the figures, as ``queries._lookup_sql`` has them."""
    return (
        "WITH asked AS (SELECT * FROM unnest(%(rows)s::int[], %(tokens)s::bytea[]) AS v(row, token)),"  # noqa: S608
        f" {records.insert_cte('asked', 'TRUE')}"
        " SELECT t.token, f.institution_id, f.category, f.event_date, f.disputed, f.status, f.id, NULL::text,"
        " NULL::int[] FROM (SELECT DISTINCT token FROM asked) t"
        f" CROSS JOIN LATERAL (SELECT flag_id FROM {FlagToken._meta.db_table} WHERE token = t.token OFFSET 0) ft"
        " CROSS JOIN LATERAL (SELECT id, institution_id, category, event_date, disputed, status"
        f" FROM {Flag._meta.db_table} WHERE id = ft.flag_id AND status = ANY(%(statuses)s) OFFSET 0) f"
        " UNION ALL SELECT NULL, figures.row, NULL, NULL, NULL, NULL, NULL, figures.open_amount_band,"
        f" ARRAY[{', '.join(f'figures.{name}' for name in COUNTS)}] FROM ({lending.figures_sql('asked')}) figures"
    )


def bare_query(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        return answer(request, cursor)


def bare_query_prepared(request: HttpRequest) -> HttpResponse:
    with prepared.cursor() as cursor:
        return answer(request, cursor)


def answer(request: HttpRequest, cursor: CursorWrapper) -> HttpResponse:
    try:
        institution = int(request.GET.get("institution", ""))
        tokens = [bytes.fromhex(token) for token in request.GET.getlist("token")]
    except ValueError:
        return JsonResponse({"error": "institution must be a number, tokens hexadecimal"}, status=400)
    if not 1 <= len(tokens) <= IDENTIFIERS_MAX or any(len(token) != 32 for token in tokens):
        return JsonResponse({"error": f"1 to {IDENTIFIERS_MAX} tokens of 32 bytes"}, status=400)
    today = timezone.localdate()
    values = {
        **records.params(institution, today, PURPOSE, PEPPER_VERSION),
        **lending.params(institution, today),
        "rows": [0] * len(tokens),
        "tokens": tokens,
        "statuses": STATUSES,
    }
    cursor.execute(statement(), values)
    rows = cursor.fetchall()
    flags: dict[int, dict[str, object]] = {}
    figures: dict[str, object] | None = None
    for token, institution_id, category, event, disputed, _status, flag_id, band, counts in rows:
        if token is None:
            figures = dict(zip(COUNTS, counts, strict=True)) | {"open_amount_band": band}
        else:  # each flag once, however many of the subject's tokens found it
            flags[flag_id] = {
                "institution": institution_id,
                "category": category,
                "event_date": str(event),
                "disputed": disputed,
            }
    others = [flag for flag in flags.values() if flag["institution"] != institution]
    return JsonResponse({"hit": bool(others), "flags": list(flags.values()), "lending": figures})


urlpatterns = [
    path("bench/bare-query", bare_query, name="bench-bare-query"),
    path("bench/bare-query-prepared", bare_query_prepared, name="bench-bare-query-prepared"),
    path("", include("config.urls")),
]
