"""The identifier standard, version 1: every way of writing an identifier gives one token,
every malformed one is refused with the right reason (docs/identifiers.md)."""

import hashlib
import hmac
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from memberkit.identifiers import TYPES, InvalidIdentifier, clean, member_token, normalize, normalizer

KEY = bytes(range(32))
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def full_width(text: str) -> str:
    """The same text in full-width forms, as a Chinese keyboard may type it."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def reference_check(body: str) -> str:
    """GB 11643's check character, written out from the standard (shared/DOMAIN.md)."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def reason(id_type: str, raw: str) -> str:
    with pytest.raises(InvalidIdentifier) as refused:
        normalize(id_type, raw)
    return refused.value.reason


birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date.today())


@st.composite
def cnids(draw: st.DrawFn, dates: st.SearchStrategy[date] = birth_dates) -> str:
    region = draw(st.from_regex(r"[0-9]{6}", fullmatch=True))
    born = draw(dates)
    sequence = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    body = f"{region}{born:%Y%m%d}{sequence}"
    return body + reference_check(body)


def spread(text: str, draw: st.DrawFn) -> str:
    """The same characters with spaces and separators scattered between them."""
    out = []
    for character in text:
        out.append(draw(st.sampled_from(["", "", " ", "-", ".", "/", "(", ")", "\u3000", "\t"])))
        out.append(character)
    return "".join(out)


@given(cnids(), st.data())
def test_every_way_of_writing_a_resident_id_gives_one_token(cnid, data):
    token = member_token("cnid", cnid, KEY)
    variants = [
        cnid.lower(),
        full_width(cnid),
        spread(cnid, data.draw),
        spread(full_width(cnid).lower(), data.draw),
    ]
    for variant in variants:
        assert member_token("cnid", variant, KEY) == token, variant


@given(cnids(st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31))))
def test_the_fifteen_digit_legacy_form_gives_the_same_token(cnid):
    legacy = cnid[:6] + cnid[8:17]

    assert normalize("cnid", legacy) == cnid
    assert member_token("cnid", legacy, KEY) == member_token("cnid", cnid, KEY)


@given(cnids(), st.sampled_from("0123456789X"))
def test_every_wrong_check_character_is_refused(cnid, check):
    assume(check != cnid[17])

    assert reason("cnid", cnid[:17] + check) == "bad_checksum"


@given(st.sampled_from(["19491331", "19490230", "20230229", "19490000", "18991231"]), st.data())
def test_impossible_or_out_of_range_birth_dates_are_refused(birth, data):
    body = data.draw(st.from_regex(r"[0-9]{6}", fullmatch=True)) + birth + "123"

    assert reason("cnid", body + reference_check(body)) == "bad_date"


def test_a_birth_date_after_today_is_refused():
    body = f"110105{date.today() + timedelta(days=1):%Y%m%d}123"

    assert reason("cnid", body + reference_check(body)) == "bad_date"


@given(st.from_regex(r"[0-9]{1,30}", fullmatch=True).filter(lambda s: len(s) not in (15, 18)))
def test_wrong_lengths_are_refused(digits):
    assert reason("cnid", digits) == "bad_length"


@given(cnids(), st.integers(0, 16), st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWYZ#*_,;"))
def test_stray_characters_are_refused(cnid, position, stray):
    assert reason("cnid", cnid[:position] + stray + cnid[position + 1 :]) == "bad_characters"


@given(cnids())
def test_check_characters_agree_with_python_stdnum(cnid):
    from stdnum.cn import ric

    assert ric.calc_check_digit(cnid) == cnid[17]


mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@given(mobiles, st.data())
def test_every_way_of_writing_a_chinese_mobile_gives_one_token(mobile, data):
    assume(phonenumbers.is_possible_number(phonenumbers.parse(mobile, "CN")))
    token = member_token("mobile", mobile, KEY)

    for variant in (
        f"+86{mobile}",
        f"0086{mobile}",
        f"+86 {mobile[:3]}-{mobile[3:7]}-{mobile[7:]}",
        spread(mobile, data.draw),
        full_width(mobile),
        f"(+86) {mobile}",
    ):
        assert member_token("mobile", variant, KEY) == token, variant
    assert normalize("mobile", mobile) == f"+86{mobile}"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("1380013800", "not_mobile"),
        ("+86 2012345678", "not_mobile"),
        ("138-0013-800a", "bad_characters"),
        ("+1 999", "bad_length"),
        ("", "bad_characters"),
    ],
)
def test_malformed_mobiles_are_refused(raw, why):
    assert reason("mobile", raw) == why


def test_other_countries_keep_their_own_country_code():
    assert normalize("mobile", "+44 7911 123456") == "+447911123456"
    assert normalize("mobile", "0044 7911 123456") == "+447911123456"


uscc_bodies = st.from_regex(r"[0-9]{8}[0-9ABCDEFGHJKLMNPQRTUWXY]{9}", fullmatch=True)


@given(uscc_bodies, st.data())
def test_unified_social_credit_codes_agree_with_python_stdnum(body, data):
    code = body + stdnum_uscc.calc_check_digit(body)

    assert stdnum_uscc.is_valid(code)
    assert normalize("uscc", spread(code.lower(), data.draw)) == code
    wrong = data.draw(st.sampled_from("0123456789ABCDEFGHJKLMNPQRTUWXY").filter(lambda c: c != code[17]))
    assert reason("uscc", body + wrong) == "bad_checksum"
    assert not stdnum_uscc.is_valid(body + wrong)


@pytest.mark.parametrize(("raw", "why"), [("9111000060003734", "bad_length"), ("91110000600O37341L", "bad_characters")])
def test_malformed_codes_are_refused(raw, why):
    assert reason("uscc", raw) == why


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("chn:e12345678", "CHN:E12345678"),
        ("USA : 1234-5678-9", "USA:123456789"),
        (full_width("gbr:123456789"), "GBR:123456789"),
    ],
)
def test_passports_are_issuer_and_number(raw, canonical):
    assert normalize("passport", raw) == canonical


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("E12345678", "bad_format"),
        ("CHN:E1:2", "bad_format"),
        ("XXX:E12345678", "unknown_issuer"),
        ("CN:E12345678", "unknown_issuer"),
        ("CHN:E123", "bad_length"),
        ("CHN:" + "9" * 21, "bad_length"),
        ("CHN:E1234_678", "bad_characters"),
    ],
)
def test_malformed_passports_are_refused(raw, why):
    assert reason("passport", raw) == why


def test_unknown_types_are_refused():
    assert reason("email", "someone@example.com") == "unknown_type"


REASONS = {"bad_checksum", "bad_date", "bad_length", "bad_characters", "bad_format", "not_mobile", "unknown_issuer"}


def outcome(id_type: str, raw: str, normalize: Callable[[str, str], str] = normalize) -> str:
    try:
        return "ok:" + normalize(id_type, raw)
    except InvalidIdentifier as refused:
        return "refused:" + refused.reason


def fast(id_type: str, raw: str) -> str:
    return normalizer(id_type)(raw)


@given(cnids(), st.sampled_from("0123456789Xx"), st.booleans())
def test_the_fast_path_accepts_exactly_the_check_characters_of_python_stdnum(cnid, last, lower):
    from stdnum.cn import ric

    raw = cnid[:17] + last
    expected = ric.calc_check_digit(cnid[:17] + "0") == last.upper()

    assert outcome("cnid", raw, fast) == (f"ok:{raw.upper()}" if expected else "refused:bad_checksum")


cnid_like = st.one_of(
    cnids(),
    cnids().map(str.lower),
    cnids(st.dates(min_value=date(1800, 1, 1), max_value=date(2999, 12, 31))),
    st.from_regex(r"[0-9]{17}[0-9Xx]", fullmatch=True),
    st.from_regex(r"[0-9]{15}", fullmatch=True),
    st.text(alphabet="0123456789Xx- \u3000\uff10\uff11\u0661", min_size=14, max_size=20),
    st.text(max_size=20),
)


@given(cnid_like, st.sampled_from(TYPES))
def test_the_normalizer_of_a_type_gives_what_normalize_gives_for_every_input(raw, id_type):
    assert outcome(id_type, raw, fast) == outcome(id_type, raw)


@given(st.sampled_from(TYPES), st.text(max_size=40))
def test_normalizing_is_idempotent_and_refusals_carry_a_known_reason(id_type, raw):
    result = outcome(id_type, raw)

    if result.startswith("refused:"):
        assert result.removeprefix("refused:") in REASONS
    else:
        canonical = result.removeprefix("ok:")
        assert normalize(id_type, canonical) == canonical
        assert clean(canonical) == canonical


def test_member_token_is_hmac_sha256_of_the_message_under_the_key():
    expected = hmac.new(KEY, b"rs1:cnid:11010519491231002X", hashlib.sha256).hexdigest()

    assert member_token("cnid", "11010519491231002x", KEY) == expected
    with pytest.raises(ValueError, match="32 bytes"):
        member_token("cnid", "11010519491231002X", KEY[:16])


VECTORS = Path(__file__).resolve().parents[2] / "docs" / "identifiers.md"
VECTOR_ROW = re.compile(r"^\| `(\w+)` \| `([^`]*)` \| (`[^`]*`|refused: `(\w+)`) \| (`[0-9a-f]{64}`|) *\|$")


def vectors() -> list[tuple[str, str, str | None, str | None, str | None]]:
    rows = []
    for line in VECTORS.read_text(encoding="utf-8").splitlines():
        if match := VECTOR_ROW.match(line):
            id_type, raw, outcome, refusal, token = match.groups()
            canonical = None if refusal else outcome.strip("`")
            rows.append((id_type, raw, canonical, refusal, token.strip("`") or None))
    return rows


def test_the_published_vectors_hold():
    rows = vectors()
    found = re.search(r"Test key: `([0-9a-f]{64})`", VECTORS.read_text(encoding="utf-8"))
    assert found is not None
    key = bytes.fromhex(found.group(1))

    assert len(rows) >= 20
    for id_type, raw, canonical, refusal, token in rows:
        if refusal:
            assert reason(id_type, raw) == refusal, raw
        else:
            assert normalize(id_type, raw) == canonical, raw
            assert member_token(id_type, raw, key) == token, raw


def without_django(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` run by a fresh interpreter in the repository's root, with Django made unimportable."""
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", "import sys; sys.modules['django'] = None; " + code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_module_imports_nothing_from_django():
    result = without_django("import memberkit.identifiers as m; print(m.normalize('cnid', '110105491231002'))")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "11010519491231002X"
