"""The client address used by the sign-in lockout and the API-key allow-lists."""

import pytest
from django.test import RequestFactory

from accounts.network import address_allowed, client_ip


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.7", "10.0.0.2"),  # no proxy: the header is the client's own words
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "203.0.113.1, 198.51.100.7", "198.51.100.7"),  # only the entry our proxy wrote counts
        (2, "203.0.113.1, 198.51.100.7", "203.0.113.1"),
        (3, "198.51.100.7", "198.51.100.7"),  # fewer entries than proxies: the leftmost
        (1, "not-an-address", "10.0.0.2"),  # junk never reaches the lockout or allow-lists
        (1, "", "10.0.0.2"),
    ],
)
def test_client_ip_trusts_forwarded_for_only_as_far_as_configured(settings, proxies, forwarded, expected):
    settings.NUM_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


def test_allow_list_matches_ipv4_addresses_seen_through_an_ipv6_socket():
    assert address_allowed("::ffff:203.0.113.9", ["203.0.113.0/24"])
    assert not address_allowed("::ffff:198.51.100.1", ["203.0.113.0/24"])


def test_empty_allow_list_allows_every_address_and_junk_never_matches():
    assert address_allowed("198.51.100.1", [])
    assert not address_allowed("junk", ["0.0.0.0/0"])
