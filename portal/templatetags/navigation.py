"""``{% navigation %}``: the bar of sections that base.html shows every signed-in person."""

from typing import Any

from django import template
from django.urls import reverse

from portal.navigation import sections_for

register = template.Library()


@register.inclusion_tag("portal/_navigation.html", takes_context=True)
def navigation(context: template.Context) -> dict[str, Any]:
    """The person's sections as links, the one the page belongs to (by its path) marked: the
    section's own page is named, not linked to itself; a page within a section links back to it."""
    request = context.get("request")
    if request is None:
        return {"links": []}
    links = [(reverse(f"portal:{section.url_name}"), section.label) for section in sections_for(request.user)]
    within = max((url for url, _label in links if request.path.startswith(url)), key=len, default=None)
    return {"links": [(url, label, url == within, url == request.path) for url, label in links]}
