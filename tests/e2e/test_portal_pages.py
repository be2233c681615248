"""Every portal page, for the people who use it: readable on a tablet, every control labelled,
and in English with no Chinese left once a person switches language (and Chinese by default)."""

import re

import pytest
from playwright.sync_api import expect

from accounts.choices import Role
from sharing.flags import services
from sharing.models import Flag
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import InspectionFactory, UploadFactory, flag_item

pytestmark = pytest.mark.django_db(transaction=True)

MEMBER_PAGES = [
    "/",
    "/flags/",
    "/flags/new/",
    "/flags/{flag}/",
    "/uploads/",
    "/uploads/{upload}/",
    "/query/",
    "/inspections/",
    "/audit/",
    "/people/",
    "/api-keys/",
    "/password/",
]
REGULATOR_PAGES = ["/", "/reports/", "/institutions/", "/audit/"]
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
DETAILS = {"amount": 32000, "product": "consumer loan", "note": "the member's own words"}  # data, not UI
TABLET = {"width": 768, "height": 1024}

# Every visible form control has a name a screen reader can read out.
UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea")]
  .filter((el) => el.type !== "hidden" && el.offsetParent !== null)
  .filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")))
  .map((el) => el.outerHTML)"""
WIDER_THAN_SCREEN = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture
def everyone(cast):
    """Alpha's admin, who (as at a small lender) also contributes, analyses and audits."""
    person = cast.alpha["institution_admin"]
    person.roles = [Role.INSTITUTION_ADMIN, Role.CONTRIBUTOR, Role.ANALYST, Role.AUDITOR]
    person.save(update_fields=["roles"])
    services.contribute(
        cast.alpha.institution, [flag_item(f"ALPHA-{n}", category="fraud_confirmed", details=DETAILS) for n in range(3)]
    )
    upload = UploadFactory.create(
        institution=cast.alpha.institution,
        file_name="nightly-2026-11-28.csv",
        status="succeeded",
        rows_total=3,
        rows_done=3,
        created_count=3,
    )
    ids = {"flag": Flag.objects.filter(institution=cast.alpha.institution).earliest("id").pk, "upload": upload.pk}
    return person, [path.format(**ids) for path in MEMBER_PAGES]


def check_page(page, path) -> None:
    response = page.goto(path)
    assert response.status == 200, path
    assert page.evaluate(UNLABELLED) == [], path
    assert page.evaluate(WIDER_THAN_SCREEN) <= 0, f"{path} scrolls sideways on a tablet"


def test_member_pages_read_on_a_tablet_with_every_control_labelled(page, everyone):
    person, paths = everyone
    sign_in(page, person)
    page.set_viewport_size(TABLET)

    for path in paths:
        check_page(page, path)
        assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.goto("/")
    screenshot(page, "home-tablet-zh")


def test_regulator_pages_read_on_a_tablet_with_every_control_labelled(page, cast):
    sign_in(page, cast.regulator["regulator_staff"])
    page.set_viewport_size(TABLET)

    for path in REGULATOR_PAGES:
        check_page(page, path)


def test_after_switching_to_english_no_page_shows_chinese(page, everyone):
    person, paths = everyone
    sign_in(page, person)
    page.select_option("#language", "en")
    page.wait_for_load_state("networkidle")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    for path in paths:
        page.goto(path)
        text = page.locator("body").inner_text()
        # The language menu names Chinese in Chinese, as language menus do.
        leftover = HAN.findall(text.replace("简体中文", ""))
        assert not leftover, f"{path}: {''.join(leftover)}"


# Latin script a Chinese page may show: names of formats, commands and columns, and data.
TECHNICAL = {
    "API",
    "Riskshare",
    "CSV",
    "JSON",
    "Lines",
    "UTF-8",
    "python",
    "m",  # python -m
    "memberkit",
    "hash",
    "correlation_id",
    "id_type",
    "token",
    "id_type_2",
    "token_2",
    "id_type_5",
    "token_5",
    "CIDR",
    "IP",
}
DATA = re.compile(r"\S+@\S+|alpha-\w+|ALPHA-\d+|nightly-[\d-]+\.csv|\b(flag|upload|user|api_key) \d+\b")


def test_in_chinese_no_page_shows_english_words(page, everyone):
    person, paths = everyone
    sign_in(page, person)

    for path in paths:
        if re.fullmatch(r"/flags/\d+/", path):
            continue  # a flag's details are the member's own words, in whatever language
        page.goto(path)
        text = page.locator("body").inner_text()
        text = DATA.sub(" ", text.replace(person.institution.code, " ").replace(person.institution.name_zh, " "))
        english = set(re.findall(r"[A-Za-z][\w.-]*", text)) - TECHNICAL
        assert not english, f"{path}: {sorted(english)}"


def test_another_institutions_pages_are_not_found(page, everyone, cast):
    person, _paths = everyone
    services.contribute(cast.beta.institution, [flag_item("BETA-1")])
    theirs = [
        f"/flags/{Flag.objects.get(reference='BETA-1').pk}/",
        f"/uploads/{UploadFactory.create(institution=cast.beta.institution).pk}/",
        f"/inspections/{InspectionFactory.create(institution=cast.beta.institution).pk}/",
        f"/people/{cast.beta['analyst'].pk}/",
    ]
    sign_in(page, person)

    for path in theirs:
        response = page.goto(path)
        assert response.status == 404, path
        expect(page.locator("main")).not_to_contain_text("BETA-1")
