"""The navigation bar of every page shows each person the sections their roles open, and only those."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

SECTIONS = ["/flags/", "/uploads/", "/query/", "/inspections/", "/reports/", "/institutions/", "/audit/", "/people/"]
SECTIONS += ["/api-keys/"]
OPENS = {
    ("alpha", "institution_admin"): ["/people/", "/api-keys/"],
    ("alpha", "contributor"): ["/flags/", "/uploads/"],
    ("alpha", "analyst"): ["/query/", "/inspections/"],
    ("alpha", "auditor"): ["/flags/", "/uploads/", "/audit/"],
    ("regulator", "institution_admin"): ["/people/", "/api-keys/"],
    ("regulator", "regulator_staff"): ["/reports/", "/institutions/", "/audit/"],
    ("operator", "operator"): ["/reports/", "/institutions/"],
}


def bar(page: str) -> str:
    found = re.search(r'<nav class="links sections".*?</nav>', page, re.DOTALL)
    return found.group(0) if found else ""


@pytest.mark.parametrize(("team", "role"), list(OPENS))
def test_the_bar_links_exactly_the_sections_that_open_for_the_person(cast, team, role):
    client = Client()
    client.force_login(getattr(cast, team)[role])

    linked = re.findall(r'href="([^"]+)"', bar(client.get("/").text))

    assert linked == OPENS[(team, role)]
    for path in SECTIONS:
        assert client.get(path).status_code == (200 if path in linked else 403), path


def test_a_sections_own_page_is_named_not_linked_and_its_pages_link_back(cast):
    client = Client()
    client.force_login(cast.alpha["auditor"])

    on_flags = bar(client.get("/flags/").text)
    on_password = bar(client.get("/password/").text)

    assert '<span class="here" aria-current="page">' in on_flags
    assert 'href="/flags/"' not in on_flags
    assert 'href="/uploads/"' in on_flags
    assert "aria-current" not in on_password


def test_the_bar_speaks_the_persons_language_and_is_not_shown_before_sign_in(cast):
    client = Client()
    client.force_login(cast.regulator["regulator_staff"])

    assert "会员活动" in bar(client.get("/").text)
    assert "Member activity" in bar(client.get("/", headers={"accept-language": "en"}).text)
    assert bar(Client().get("/sign-in/").text) == ""
