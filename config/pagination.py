"""Pagination shared by every list endpoint, and by the portal's long lists."""

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.pagination import CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    """Small tables (users, keys, institutions): numbered pages of a stable order."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class NewestFirstCursorPagination(CursorPagination):
    """Large append-only tables (the audit trail): newest first, stable under inserts."""

    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


@dataclass(frozen=True)
class PortalPage:
    """A page of a portal list, newest first: its rows, the id the next page starts before (None on
    the last page), and the request's other query parameters, for the link to it."""

    rows: list[Any]
    older: int | None
    query: str


def newest_first_page(request: HttpRequest, queryset: QuerySet[Any], size: int) -> PortalPage:
    """The rows of ``queryset`` (ordered by descending id) before ``?before=ID``, ``size`` of them."""
    before = request.GET.get("before", "")
    if before.isdigit():
        queryset = queryset.filter(id__lt=int(before))
    rows = list(queryset[: size + 1])
    query = request.GET.copy()
    query.pop("before", None)
    return PortalPage(rows[:size], rows[size - 1].pk if len(rows) > size else None, query.urlencode())
