"""Pagination shared by every list endpoint."""

from rest_framework.pagination import PageNumberPagination


class PagePagination(PageNumberPagination):
    """Small tables (users, keys, institutions): numbered pages of a stable order."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
