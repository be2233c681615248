"""The source address of a request, as far as the deployment lets us trust it."""

import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The peer address, or with ``NUM_PROXIES`` set, the address the outermost trusted proxy saw.

    Proxies append to ``X-Forwarded-For``, so only the last ``NUM_PROXIES``
    entries were written by machines we trust; anything to their left was
    written by the client and could be forged.
    """
    remote = str(request.META.get("REMOTE_ADDR", ""))
    if settings.NUM_PROXIES == 0:
        return remote
    forwarded = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    forwarded = [part for part in forwarded if part]
    if not forwarded:
        return remote
    candidate = forwarded[-min(settings.NUM_PROXIES, len(forwarded))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote  # Not an address: a misconfigured proxy count let client text through.


def client_ip_for_axes(request: HttpRequest) -> str:
    return client_ip(request)


def address_allowed(address: str, networks: Iterable[str]) -> bool:
    """True when ``address`` lies in one of ``networks``; an empty list allows every address."""
    networks = list(networks)
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:203.0.113.9 from a server bound to [::] is 203.0.113.9
    return any(ip in ipaddress.ip_network(network) for network in networks)
